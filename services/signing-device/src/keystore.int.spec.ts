import { copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  keystoreCli,
  makeKeystore,
  spawnDevice,
  spawnDeviceExpectingFailure,
  type TestKeystore,
} from "../../../test/support/signing-device.ts";

/** The device refuses a keystore that is not exactly what the CLI sealed, and says why. */

let keystore: TestKeystore;
const copies: string[] = [];

beforeAll(() => {
  keystore = makeKeystore();
});

afterAll(() => {
  for (const dir of [keystore?.dir, ...copies]) if (dir) rmSync(dir, { recursive: true, force: true });
});

function copy(): TestKeystore {
  const dir = mkdtempSync(join(tmpdir(), "piaoju-keystore-copy-"));
  cpSync(keystore.dir, dir, { recursive: true });
  copies.push(dir);
  return { ...keystore, dir };
}

describe("the device at start", () => {
  it("starts from an intact keystore and stops on SIGTERM", async () => {
    const device = await spawnDevice(keystore);
    expect(device.port).toBeGreaterThan(0);
    await device.stop();
    expect(device.process.exitCode).toBe(0);
    expect(device.stderr()).not.toContain(keystore.keyHex);
  });

  it("refuses a key file with one flipped bit", async () => {
    const tampered = copy();
    const path = join(tampered.dir, "agency-110101.key");
    const bytes = readFileSync(path);
    bytes[30] = (bytes[30] as number) ^ 1;
    writeFileSync(path, bytes);
    const { code, stderr } = await spawnDeviceExpectingFailure(tampered);
    expect(code).toBe(1);
    expect(stderr).toContain("agency-110101.key failed its integrity check");
    expect(stderr).not.toContain(keystore.keyHex);
  });

  it("refuses a truncated key file, a key file renamed to another key id, another keystore key", async () => {
    const truncated = copy();
    const path = join(truncated.dir, "bare.key");
    writeFileSync(path, readFileSync(path).subarray(0, 20));
    expect((await spawnDeviceExpectingFailure(truncated)).stderr).toContain(
      "bare.key is not a Piaoju keystore file",
    );

    const renamed = copy();
    copyFileSync(join(renamed.dir, "bare.key"), join(renamed.dir, "agency-110101.key"));
    expect((await spawnDeviceExpectingFailure(renamed)).stderr).toContain(
      "agency-110101.key failed its integrity check",
    );

    const otherKey = { ...keystore, keyHex: "00".repeat(16) };
    expect((await spawnDeviceExpectingFailure(otherKey)).stderr).toContain("failed its integrity check");
  }, 180_000); // three device processes start here, each a tsx start-up: slow on a busy 2-core machine

  it("refuses a certificate that belongs to another key", async () => {
    const swapped = copy();
    keystoreCli(swapped, ["init", "--dir", swapped.dir, "--key-id", "other"]);
    copyFileSync(join(swapped.dir, "other.crt.pem"), join(swapped.dir, "agency-110101.crt.pem"));
    expect((await spawnDeviceExpectingFailure(swapped)).stderr).toContain(
      "agency-110101.crt.pem is the certificate of another key than agency-110101.key",
    );
  });

  it("refuses bad configuration without echoing the keystore key", async () => {
    const short = await spawnDeviceExpectingFailure(keystore, {
      PIAOJU_SIGNING_DEVICE_KEYSTORE_KEY: "abc123",
    });
    expect(short.code).toBe(2);
    expect(short.stderr).toContain("PIAOJU_SIGNING_DEVICE_KEYSTORE_KEY: must be 32 hex characters");
    expect(short.stderr).not.toContain("abc123");
    const missing = await spawnDeviceExpectingFailure(keystore, {
      PIAOJU_SIGNING_DEVICE_KEYSTORE_DIR: join(keystore.dir, "nowhere"),
    });
    expect(missing.stderr).toContain("does not exist");
  });
});

describe("keystore-cli", () => {
  it("import-cert installs a chain for its own key only", () => {
    const dir = copy();
    const other = readFileSync(join(dir.dir, "agency-110101.crt.pem"));
    writeFileSync(join(dir.dir, "chain.pem"), other);
    expect(() =>
      keystoreCli(dir, [
        "import-cert",
        "--dir",
        dir.dir,
        "--key-id",
        "bare",
        "--cert",
        join(dir.dir, "chain.pem"),
      ]),
    ).toThrow(/not for key bare/);
    keystoreCli(dir, [
      "import-cert",
      "--dir",
      dir.dir,
      "--key-id",
      "agency-110101",
      "--cert",
      join(dir.dir, "chain.pem"),
    ]);
    const listing = keystoreCli(dir, ["list", "--dir", dir.dir]);
    expect(listing).toMatch(/^agency-110101\tpublic=04[0-9a-f]{128}\t[^\t]*CN=agency-110101/m);
    expect(listing).toMatch(/^bare\tpublic=04[0-9a-f]{128}\tno certificate$/m);
  });

  it("refuses to replace an existing key", () => {
    expect(() => keystoreCli(keystore, ["init", "--dir", keystore.dir, "--key-id", "bare"])).toThrow(
      /refusing to replace/,
    );
  });
});
