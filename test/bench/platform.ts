// The embedded platform as the benches run it: `./piaoju start --no-demo` as a child process on a
// new data folder, the agency's people asserted as the gateway would (the bench holds the
// assertion key of that folder), a business app's signed calls, and the ticket manager's set-up
// of an agency (bill kind, 申领 from the finance simulator, 入库, issuing points, 分发 rules, app).
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ASSERTION_HEADER, type AssertedIdentity, AssertionSigner, BUILT_IN_ROLES } from "@piaoju/access";
import { signRequest } from "@piaoju/business-client";
import type { Pool } from "undici";
import { sleep } from "./measure.ts";

export const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

export interface Platform {
  child: ChildProcess;
  url: string;
  readyMs: number;
  output: () => string;
}

/** `./piaoju start --no-demo` on `dataDir`; resolves once it says it is running. */
export async function startEmbedded(
  dataDir: string,
  options: { startTimeoutS: number; profileDir?: string | undefined; env?: Record<string, string> },
): Promise<Platform> {
  const t0 = performance.now();
  const prof = options.profileDir ? ["--cpu-prof", `--cpu-prof-dir=${options.profileDir}`] : [];
  const child = spawn(
    process.execPath,
    [...prof, "--import", "tsx", "services/runner/src/main.ts", "start", "--no-demo"],
    {
      cwd: repoRoot,
      env: {
        ...process.env,
        PIAOJU_DATA_DIR: dataDir,
        PIAOJU_HTTP_PORT: "0",
        LOG_LEVEL: "warn",
        ...options.env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const deadline = Date.now() + options.startTimeoutS * 1000;
  for (;;) {
    const url = /Piaoju is running at (http:\/\/\S+?);/.exec(out)?.[1];
    if (url) return { child, url, readyMs: performance.now() - t0, output: () => out };
    if (child.exitCode !== null || Date.now() > deadline) {
      // never leave a platform running behind a failed bench (it would load the machine on)
      await stopPlatform(child);
      throw new Error(`./piaoju start did not become ready (${child.exitCode}):\n${out}`);
    }
    await sleep(20);
  }
}

/** Every process below `pid` now (its children's children too), from /proc. */
function descendants(pid: number): number[] {
  const out: number[] = [];
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      for (const c of readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").split(" ")) {
        if (c.trim()) out.push(Number(c), ...descendants(Number(c)));
      }
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

/**
 * SIGTERM (a graceful stop drains and flushes, stops the finance simulator it started, and writes
 * profiles); if it hangs 30 s, SIGKILL to it and to every process below it, so that nothing it
 * started (the finance simulator) is left running behind the bench.
 */
export async function stopPlatform(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await Promise.race([exited, sleep(30_000)]);
  if (child.exitCode === null) {
    const below = child.pid ? descendants(child.pid) : [];
    child.kill("SIGKILL");
    for (const pid of below) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone already
      }
    }
  }
}

export type InternalCall = (method: string, path: string, body?: unknown) => Promise<Record<string, unknown>>;

/**
 * A person of the agency on the internal API, asserted as the gateway asserts (the data folder's
 * internal token and assertion key); a status ≥ 300 throws.
 */
export function internalCaller(
  http: Pool,
  dataDir: string,
  person: { actor: string; agency: string; roles: Array<keyof typeof BUILT_IN_ROLES> },
): InternalCall {
  const secrets = join(dataDir, "secrets");
  const token = readFileSync(join(secrets, "internal-token"), "utf8").trim();
  const signer = new AssertionSigner(readFileSync(join(secrets, "assertion-key"), "utf8").trim());
  const identity: AssertedIdentity = {
    actor: person.actor,
    kind: "person",
    agency: person.agency,
    grants: person.roles.map((r) => ({
      permissions: BUILT_IN_ROLES[r].permissions,
      scope: "agency" as const,
    })),
  };
  return async (method, path, body) => {
    const res = await http.request({
      method: method as "GET",
      path,
      headers: {
        authorization: `Bearer ${token}`,
        [ASSERTION_HEADER]: signer.sign(identity, { method, url: path }),
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.body.text();
    const json = (text ? JSON.parse(text) : {}) as Record<string, unknown>;
    if (res.statusCode >= 300) throw new Error(`${method} ${path}: ${res.statusCode} ${text}`);
    return json;
  };
}

export type BusinessCall = (
  method: "GET" | "POST" | "PUT",
  path: string,
  body?: unknown,
) => Promise<{ status: number; body: Record<string, unknown> }>;

/** A signed business API call (the scheme of packages/business-client), over the bench's pool. */
export function businessCaller(http: Pool, app: { appId: string; appSecret: string }): BusinessCall {
  return async (method, path, body) => {
    const raw = body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(body));
    const timestamp = String(Date.now());
    const nonce = randomUUID().replaceAll("-", "");
    const res = await http.request({
      method,
      path,
      headers: {
        "x-piaoju-app-id": app.appId,
        "x-piaoju-timestamp": timestamp,
        "x-piaoju-nonce": nonce,
        "x-piaoju-signature": signRequest(app.appSecret, {
          method,
          pathWithQuery: path,
          timestamp,
          nonce,
          body: raw,
        }),
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: raw }),
    });
    const text = await res.body.text();
    return { status: res.statusCode, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
  };
}

export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  withinMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${withinMs / 1000} s`);
    await sleep(100);
  }
}

/**
 * The agency as its ticket manager sets it up: the bill kind, numbers applied for at the finance
 * simulator (申领) and taken in (入库), the income items, issuing points each with a distribution
 * rule of `perPoint` numbers (分发), and a business app allowed at every point; resolves once
 * every point's numbers reached the receipt service.
 */
export async function prepareBenchAgency(
  asManager: InternalCall,
  o: {
    agency: string;
    bill: string;
    points: string[];
    perPoint: number;
    items: Array<{ code: string; name: string; unit: string; standardFen: number | null }>;
    appName: string;
  },
): Promise<{ appId: string; appSecret: string }> {
  await asManager("POST", "/v1/stock/bill-kinds", {
    agencyCode: o.agency,
    billCode: o.bill,
    name: "非税收入一般缴款书（电子）",
  });
  await asManager("POST", "/v1/finance-exchange/stock-applications", {
    agencyCode: o.agency,
    billCode: o.bill,
    quantity: o.perPoint * o.points.length + 1000,
  });
  const segment = await until("the segment from finance", async () => {
    const items = (await asManager("GET", `/v1/stock/segments?agencyCode=${o.agency}&billCode=${o.bill}`))
      .items as Array<{ id: string; status: string }>;
    return items[0];
  });
  await asManager("POST", `/v1/stock/segments/${segment.id}/confirm`);
  for (const item of o.items)
    await asManager("POST", "/v1/issuance/items", { agencyCode: o.agency, ...item });
  for (const code of o.points) {
    await asManager("POST", "/v1/issuance/issuing-points", {
      agencyCode: o.agency,
      code,
      name: `窗口 ${code}`,
    });
    await asManager("PUT", `/v1/stock/distribution-rules/${o.agency}/${o.bill}/${code}`, {
      threshold: 1,
      batchSize: o.perPoint,
    });
  }
  const app = (await asManager("POST", "/v1/gateway/apps", {
    name: o.appName,
    agencyCode: o.agency,
    issuingPoints: o.points,
  })) as { appId: string; appSecret: string };
  for (const code of o.points) {
    await until(`${code}'s numbers at the receipt service`, async () => {
      const runs = (
        await asManager("GET", `/v1/issuance/number-runs?agencyCode=${o.agency}&issuingPointCode=${code}`)
      ).items as unknown[];
      return runs.length > 0 ? true : undefined;
    });
  }
  return app;
}
