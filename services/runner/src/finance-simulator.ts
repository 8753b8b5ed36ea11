import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * A development convenience of `./piaoju start` (embedded only): the finance e-receipt platform
 * simulator (services/finance-simulator, a peer, not part of Piaoju) as a child process with its
 * data in `<data>/finance-simulator`, so receipts get supervised (监制) and reach ISSUED without a
 * real finance system. It trusts the dev CA of the embedded signing devices' keystore, and knows
 * the demo agency with a secret kept in `<data>/secrets`. Never started in a cluster.
 */

const SIMULATOR_ENTRY = fileURLToPath(new URL("../../finance-simulator/src/main.ts", import.meta.url));
const SIMULATOR_PACKAGE = fileURLToPath(new URL("../../finance-simulator/", import.meta.url));

/** The agencies the simulator knows, with the base data the demo uses (bill kind, income item). */
const DEV_AGENCIES = [
  {
    agencyCode: "110101",
    name: "某市公安局出入境管理支队（开发）",
    billKinds: [{ billCode: "11010126", name: "非税收入一般缴款书（电子）" }],
    incomeItems: [
      { itemCode: "001", name: "护照工本费", billCode: "11010126", unit: "本", standardFen: 12000 },
    ],
  },
];

export interface FinanceWiring {
  /** Variables for the platform's finance-exchange: where finance is and each agency's secret. */
  env: Record<string, string>;
  url: string;
  adminUrl: string;
  dataDir: string;
}

export interface DevFinance extends FinanceWiring {
  /** Resolves when the simulator serves (it waits for the signing keystore's dev CA first). */
  ready: Promise<void>;
  stop(): Promise<void>;
  /** Finance gone at once (SIGKILL), as an outage is: what it had committed stays in its data. */
  kill(): Promise<void>;
  /** Finance back on the same addresses and data, after kill(); resolves when it serves. */
  restart(): Promise<void>;
}

/**
 * Reserves the simulator's ports and makes its secrets, so the platform can be started pointing at
 * it; then starts it as soon as the signing devices' dev CA exists (made by the platform on its
 * first start). Finance being down for those seconds is an outage finance-exchange rides out.
 */
export async function startDevFinance(options: {
  dataDir: string;
  secret: (name: string, make: () => string) => Promise<string>;
  log: (line: string) => void;
  /** The signing devices' keystore, whose dev CA finance trusts (default: the embedded platform's). */
  keystoreDir?: string;
}): Promise<DevFinance> {
  const simDir = join(options.dataDir, "finance-simulator");
  const secretsDir = join(options.dataDir, "secrets");
  const keystore = options.keystoreDir ?? join(options.dataDir, "signing-gateway", "keystore");
  const devCaPem = join(keystore, "dev-ca", "ca.crt.pem");
  // Held until the simulator is spawned: its URL is handed to finance-exchange before it exists.
  const reservations = [await reservePort(), await reservePort()];
  const [port, adminPort] = reservations.map((r) => r.port) as [number, number];
  const url = `http://127.0.0.1:${port}`;
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const hex16 = () => randomBytes(16).toString("hex");
  const adminToken = await options.secret("finance-simulator-admin-token", () =>
    randomBytes(24).toString("hex"),
  );
  const masterKey = await options.secret("finance-simulator-master-key", hex16);
  const agencySecrets = await Promise.all(
    DEV_AGENCIES.map(async (a) => ({
      agencyCode: a.agencyCode,
      secret: await options.secret(`finance-agency-secret-${a.agencyCode}`, () =>
        randomBytes(24).toString("base64url"),
      ),
    })),
  );

  let child: ChildProcess | undefined;
  let stopped = false;
  const seedFile = join(secretsDir, "finance-simulator-seed.json");
  const launch = async () => {
    child = spawn(process.execPath, ["--import", "tsx", SIMULATOR_ENTRY], {
      // The simulator's package has tsx among its dependencies, whatever directory Piaoju runs from.
      cwd: SIMULATOR_PACKAGE,
      env: {
        ...withoutPlatformSecrets(process.env),
        FINSIM_DATA_DIR: simDir,
        FINSIM_HOST: "127.0.0.1",
        FINSIM_PORT: String(port),
        FINSIM_ADMIN_PORT: String(adminPort),
        FINSIM_ADMIN_TOKEN: adminToken,
        FINSIM_MASTER_KEY: masterKey,
        FINSIM_AGENCY_CA_PEM: devCaPem,
        FINSIM_SEED_FILE: seedFile,
        FINSIM_CRYPTO_WORKERS: "1",
        FINSIM_LOG_LEVEL: "warn",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    // Should the runner die without stopping it, the simulator goes with it.
    const orphanGuard = () => child?.kill("SIGKILL");
    process.once("exit", orphanGuard);
    child.once("exit", () => process.off("exit", orphanGuard));
    await serving(child, options.log);
  };
  const ready = (async () => {
    await waitForFile(devCaPem, () => stopped);
    if (stopped) return;
    await mkdir(secretsDir, { recursive: true });
    await writeFile(seedFile, JSON.stringify(await seedOf(agencySecrets, keystore)), { mode: 0o600 });
    await mkdir(simDir, { recursive: true });
    await Promise.all(reservations.map((r) => r.release()));
    await launch();
  })();
  const exit = async (signal: NodeJS.Signals) => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child?.once("exit", () => resolve()));
    child.kill(signal);
    const timer = setTimeout(() => child?.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  };

  return {
    env: {
      FINANCE_URL: url,
      FINANCE_AGENCY_SECRETS: agencySecrets.map((a) => `${a.agencyCode}=${a.secret}`).join(","),
    },
    url,
    adminUrl,
    dataDir: simDir,
    ready,
    async stop() {
      stopped = true;
      await ready.catch(() => {});
      await Promise.all(reservations.map((r) => r.release()));
      await exit("SIGTERM");
    },
    async kill() {
      await ready;
      await exit("SIGKILL");
    },
    async restart() {
      await ready;
      if (stopped) throw new Error("the finance simulator was stopped");
      await exit("SIGTERM");
      await launch();
    },
  };
}

/** The seed: agencies with secrets and base data, plus any agency certificate already in the keystore. */
async function seedOf(agencies: Array<{ agencyCode: string; secret: string }>, keystore: string) {
  return {
    agencies: await Promise.all(
      agencies.map(async ({ agencyCode, secret }) => {
        const dev = DEV_AGENCIES.find((a) => a.agencyCode === agencyCode);
        // A key made before its certificate named the agency (subject OU) is bound explicitly.
        const certFile = join(keystore, `agency-${agencyCode}.crt.pem`);
        const certificatePems = existsSync(certFile) ? [await readFile(certFile, "utf8")] : [];
        return {
          agencyCode,
          name: dev?.name ?? agencyCode,
          secret,
          baseData: { billKinds: dev?.billKinds ?? [], incomeItems: dev?.incomeItems ?? [] },
          certificatePems,
        };
      }),
    ),
  };
}

/** Resolves on the simulator's banner; rejects if it exits first. Its logs go to this stderr. */
function serving(child: ChildProcess, log: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let banner = "";
    let up = false;
    child.stdout?.on("data", (chunk: Buffer) => {
      if (up) {
        process.stderr.write(chunk);
        return;
      }
      banner += chunk.toString("utf8");
      if (banner.includes("finance simulator: agency API")) {
        up = true;
        resolve();
      }
    });
    child.stderr?.on("data", (chunk: Buffer) => process.stderr.write(chunk));
    child.once("exit", (code, signal) => {
      if (!up) reject(new Error(`the finance simulator exited before serving (${signal ?? code})`));
      else log(`finance simulator stopped (${signal ?? code})`);
    });
  });
}

/** The child gets no platform secret: only what it needs is passed as FINSIM_*. */
function withoutPlatformSecrets(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(env).filter(
      ([k]) => !k.startsWith("PIAOJU_") && !k.startsWith("FINANCE_") && !k.startsWith("FINSIM_"),
    ),
  );
}

async function waitForFile(path: string, cancelled: () => boolean): Promise<void> {
  for (let i = 0; !existsSync(path); i++) {
    if (cancelled()) return;
    if (i > 1200) throw new Error(`${path} did not appear: the signing devices did not make their dev CA`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * A port for the simulator, held by a listening socket until `release()`. It is taken below the
 * kernel's ephemeral range (32768+ on Linux), so that nothing asking for port 0 meanwhile (another
 * process, a test running beside) can be handed it between the release and the simulator's bind.
 */
async function reservePort(): Promise<{ port: number; release(): Promise<void> }> {
  for (let attempt = 0; ; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    // finance-exchange already knows the URL: its early calls are refused here (an outage it rides
    // out), and no held connection can keep close() from finishing.
    const server = createServer((socket) => socket.destroy());
    const bound = await new Promise<boolean>((resolve) => {
      server.once("error", () => resolve(false));
      server.listen(port, "127.0.0.1", () => resolve(true));
    });
    if (bound) {
      let released: Promise<void> | undefined;
      return {
        port,
        release: () => {
          released ??= new Promise<void>((resolve) => server.close(() => resolve()));
          return released;
        },
      };
    }
    if (attempt > 50) throw new Error("no free port for the finance simulator below the ephemeral range");
  }
}
