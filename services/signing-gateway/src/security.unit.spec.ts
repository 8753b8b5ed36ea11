import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "@piaoju/runtime";
import { afterAll, describe, expect, it } from "vitest";
import { loadServiceConfig } from "./config.ts";
import { gatewaySecurity } from "./main.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("the signing gateway's TLS identity", () => {
  it("is required in a cluster: without one it refuses to start unless plaintext is asked for", async () => {
    await expect(gatewaySecurity(loadServiceConfig({}), false)).rejects.toThrow(ConfigError);
    await expect(gatewaySecurity(loadServiceConfig({}), false)).rejects.toThrow(
      /PIAOJU_SIGNING_GATEWAY_TLS_DIR: required/,
    );
    expect(
      await gatewaySecurity(loadServiceConfig({ PIAOJU_SIGNING_GATEWAY_PLAINTEXT: "true" }), false),
    ).toEqual({
      plaintext: true,
    });
  });

  it("is made once in the data folder's secrets when embedded, for the gateway and its local devices, and kept", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "piaoju-sgw-"));
    dirs.push(dataDir);
    const config = loadServiceConfig({ PIAOJU_DATA_DIR: dataDir });
    const first = await gatewaySecurity(config, true);
    expect(first.tls?.identity).toBe("signing-gateway");
    expect(first.deviceTls?.identity).toBe("signing-device");
    const secrets = join(dataDir, "secrets");
    expect(readdirSync(join(secrets, "tls")).sort()).toEqual(["signing-device", "signing-gateway"]);
    expect(statSync(join(secrets, "service-ca", "ca.key")).mode & 0o077).toBe(0);
    expect(statSync(join(secrets, "tls", "signing-gateway", "tls.key")).mode & 0o077).toBe(0);
    const again = await gatewaySecurity(config, true);
    expect(again.tls?.cert.equals(first.tls?.cert as Buffer)).toBe(true);
    expect(readFileSync(join(secrets, "tls", "signing-device", "ca.crt"), "utf8")).toBe(
      readFileSync(join(secrets, "service-ca", "ca.crt"), "utf8"),
    );
  });
});
