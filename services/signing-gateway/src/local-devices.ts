import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { Logger } from "@piaoju/runtime";
import type { ServiceTls } from "@piaoju/service-identity";
import { KEYSTORE_CLI, startDevice } from "@piaoju/signing-core";

/**
 * Software devices inside the embedded process, so `./piaoju start` signs without any device
 * to set up: a keystore under the data folder (made on first start, with the keystore's dev CA),
 * private keys sealed with the keystore key the runner keeps in `.data/secrets`. Keys are made
 * with the device's own keystore CLI, so the files are exactly what a standalone device reads.
 * Development keys for agencies are made on demand only when the service was told so (embedded).
 */

const run = promisify(execFile);
const KEYSTORE_CLI_PATH = fileURLToPath(KEYSTORE_CLI);
/** Made on first start so the keystore (and its dev CA) exists before any agency needs a key. */
export const SELF_TEST_KEY = "gateway-selftest";

export interface LocalDevicesOptions {
  keystoreDir: string;
  /** 32 hex characters. */
  keystoreKeyHex: string;
  count: number;
  workersEach: number;
  /** The devices' mutual-TLS identity (they serve only the signing gateway); undefined: plaintext. */
  tls?: ServiceTls | undefined;
  logger: Logger;
}

type Device = Awaited<ReturnType<typeof startDevice>>;

export class LocalDevices {
  #devices: Device[] = [];
  #ports: number[] = [];
  #provisioning: Promise<void> = Promise.resolve();
  #ready: Promise<void> = Promise.resolve();

  private constructor(private readonly options: LocalDevicesOptions) {}

  /**
   * Picks the devices' ports now and starts them in the background (the keystore CLI and the
   * worker threads take seconds): the platform is up at once, the gateway finds the devices as
   * they come (its health polls), and receipts wait for them as for any device outage.
   */
  static async start(options: LocalDevicesOptions): Promise<LocalDevices> {
    const local = new LocalDevices(options);
    mkdirSync(options.keystoreDir, { recursive: true, mode: 0o700 });
    for (let i = 0; i < options.count; i++) local.#ports.push(await freePort());
    local.#ready = local.#startAll();
    local.#ready.catch((error: unknown) =>
      options.logger.error({ err: error }, "the local signing devices did not start"),
    );
    return local;
  }

  async #startAll(): Promise<void> {
    if (!this.hasKey(SELF_TEST_KEY)) await this.#makeKey(SELF_TEST_KEY);
    this.#devices = await Promise.all(this.#ports.map((port) => this.#startOne(port)));
    this.options.logger.info(
      { ports: this.#ports, keystore: this.options.keystoreDir },
      "local signing devices started",
    );
  }

  /** Resolves once the devices serve (rejects if they could not start). */
  get ready(): Promise<void> {
    return this.#ready;
  }

  get addresses(): string[] {
    return this.#ports.map((port) => `127.0.0.1:${port}`);
  }

  hasKey(keyId: string): boolean {
    return existsSync(join(this.options.keystoreDir, `${keyId}.key`));
  }

  keyIds(): string[] {
    return readdirSync(this.options.keystoreDir)
      .filter((f) => f.endsWith(".key"))
      .map((f) => f.slice(0, -4));
  }

  /**
   * Makes a development key (with a dev-CA certificate) for `keyId` unless it exists, then
   * restarts the devices one at a time on their ports so they load it (the gateway routes
   * around the one restarting). Provisions run one after the other.
   */
  provision(keyId: string, agencyCode: string): Promise<void> {
    const next = this.#provisioning.then(async () => {
      await this.#ready;
      if (this.hasKey(keyId)) return;
      // The subject OU names the agency: finance takes a certificate as the agency's by it.
      await this.#makeKey(keyId, `/C=CN/O=Piaoju Development/OU=${agencyCode}/CN=${keyId}`);
      this.options.logger.warn({ keyId, agencyCode }, "development signing key made for an agency");
      for (let i = 0; i < this.#devices.length; i++) {
        await this.#devices[i]?.close();
        this.#devices[i] = await this.#startOne(this.#ports[i] as number);
      }
    });
    this.#provisioning = next.catch(() => {});
    return next;
  }

  async #makeKey(keyId: string, subject?: string): Promise<void> {
    const args = [
      "--import",
      "tsx",
      KEYSTORE_CLI_PATH,
      "init",
      "--dir",
      this.options.keystoreDir,
      "--key-id",
      keyId,
    ];
    if (subject) args.push("--subject", subject);
    await run(process.execPath, args, {
      // The core's package has tsx among its dependencies, whatever directory Piaoju runs from.
      cwd: join(KEYSTORE_CLI_PATH, "..", ".."),
      env: { ...process.env, PIAOJU_SIGNING_DEVICE_KEYSTORE_KEY: this.options.keystoreKeyHex },
    });
  }

  #startOne(port: number): Promise<Device> {
    return startDevice(
      {
        listen: `127.0.0.1:${port}`,
        keystoreDir: this.options.keystoreDir,
        keystoreKey: Buffer.from(this.options.keystoreKeyHex, "hex"),
        workers: this.options.workersEach,
        maxPayloadBytes: 4 * 1024 * 1024,
        maxStreamBytes: 1024 * 1024 * 1024,
        maxBatchItems: 1000,
        capacity: 20_000,
        logLevel: "warn",
        tls: this.options.tls,
      },
      this.options.logger.child({ component: "local-signing-device" }),
    );
  }

  async close(): Promise<void> {
    await this.#ready.catch(() => {});
    await this.#provisioning;
    for (const device of this.#devices) await device.close();
    this.#devices = [];
  }
}

/** A free loopback port (the kernel's pick; the device binds it a moment later). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject()));
    });
  });
}
