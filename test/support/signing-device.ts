import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadSigningProto, type SigningDeviceClient } from "@piaoju/proto/signing";
import { TLS_CHANNEL_OPTIONS } from "@piaoju/service-identity";
import { testPki } from "@piaoju/service-identity/testing";
import { KEYSTORE_CLI } from "@piaoju/signing-core";

/** Test and benchmark support: make a keystore with the CLI and run the device as its own process. */

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const MAIN = fileURLToPath(new URL("../../services/signing-device/src/main.ts", import.meta.url));
const CLI = fileURLToPath(KEYSTORE_CLI);

export interface TestKeystore {
  dir: string;
  keyHex: string;
}

/** Runs keystore-cli.ts with the keystore key in its environment; returns stdout. */
export function keystoreCli(keystore: TestKeystore, args: string[]): string {
  return execFileSync(process.execPath, ["--import", "tsx", CLI, ...args], {
    cwd: ROOT,
    env: { ...process.env, PIAOJU_SIGNING_DEVICE_KEYSTORE_KEY: keystore.keyHex },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/** A fresh keystore: `agency-110101` with a dev-CA certificate, `bare` without one. */
export function makeKeystore(): TestKeystore {
  const keystore = {
    dir: mkdtempSync(join(tmpdir(), "piaoju-keystore-")),
    keyHex: randomBytes(16).toString("hex"),
  };
  keystoreCli(keystore, ["init", "--dir", keystore.dir, "--key-id", "agency-110101"]);
  keystoreCli(keystore, ["init", "--dir", keystore.dir, "--key-id", "bare", "--no-cert"]);
  return keystore;
}

export interface RunningTestDevice {
  port: number;
  client: SigningDeviceClient;
  process: ChildProcess;
  /** Another client of the device, on its own connection, as the signing gateway. */
  connect(): SigningDeviceClient;
  stderr(): string;
  stop(): Promise<void>;
}

export type DeviceExit = { code: number | null; stderr: string };

/**
 * Spawns the device with a certificate from the test process's service CA (mutual TLS) and a
 * client that calls it as the signing gateway; resolves once it prints its port, rejects (with
 * its stderr) if it exits first. `PIAOJU_SIGNING_DEVICE_PLAINTEXT: "true"` in `env` runs it without TLS.
 */
export async function spawnDevice(
  keystore: TestKeystore,
  env: Record<string, string> = {},
  /** Extra node options (e.g. `--cpu-prof`, which NODE_OPTIONS does not allow). */
  nodeArgs: string[] = [],
): Promise<RunningTestDevice> {
  const pki = await testPki();
  const plaintext = env.PIAOJU_SIGNING_DEVICE_PLAINTEXT === "true";
  const tlsEnv = plaintext ? {} : { PIAOJU_SIGNING_DEVICE_TLS_DIR: await pki.tlsDir("signing-device") };
  const caller = plaintext ? undefined : await pki.client("signing-gateway", "signing-device");
  const child = spawn(process.execPath, [...nodeArgs, "--import", "tsx", MAIN], {
    cwd: ROOT,
    env: {
      ...process.env,
      PIAOJU_SIGNING_DEVICE_LISTEN: "127.0.0.1:0",
      PIAOJU_SIGNING_DEVICE_KEYSTORE_DIR: keystore.dir,
      PIAOJU_SIGNING_DEVICE_KEYSTORE_KEY: keystore.keyHex,
      PIAOJU_SIGNING_DEVICE_WORKERS: "2",
      LOG_LEVEL: "warn",
      ...tlsEnv,
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stderr.on("data", (data: Buffer) => {
    stderr += data.toString();
  });
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) =>
      reject(Object.assign(new Error(`device exited (${code})`), { code, stderr }));
    child.once("exit", onExit);
    child.stdout.on("data", (data: Buffer) => {
      stdout += data.toString();
      const match = /SIGNING_DEVICE_LISTENING port=(\d+)/.exec(stdout);
      if (!match) return;
      child.stdout.removeAllListeners("data");
      child.off("exit", onExit);
      const port = Number(match[1]);
      const connect = () =>
        caller
          ? loadSigningProto().newClient(`127.0.0.1:${port}`, caller.credentials, { ...TLS_CHANNEL_OPTIONS })
          : loadSigningProto().newClient(`127.0.0.1:${port}`);
      const client = connect();
      resolve({
        port,
        client,
        connect,
        process: child,
        stderr: () => stderr,
        stop: () =>
          new Promise((done) => {
            client.close();
            if (child.exitCode !== null) return done();
            child.once("exit", () => done());
            child.kill("SIGTERM");
          }),
      });
    });
  });
}

/** Spawns the device expecting it to refuse to start; resolves with its exit code and stderr. */
export async function spawnDeviceExpectingFailure(
  keystore: TestKeystore,
  env: Record<string, string> = {},
): Promise<DeviceExit> {
  try {
    const device = await spawnDevice(keystore, env);
    await device.stop();
    throw new Error("the device started");
  } catch (error) {
    const { code, stderr } = error as { code?: number | null; stderr?: string };
    if (stderr === undefined) throw error;
    return { code: code ?? null, stderr };
  }
}
