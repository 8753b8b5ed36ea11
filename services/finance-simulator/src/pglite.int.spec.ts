import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateSm4Iv, hmacSm3, sm4CbcEncrypt } from "@piaoju/gm-crypto";
import { openDatabase } from "@piaoju/persistence";
import { keyIdOf } from "@piaoju/sealing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BaseDataResponse } from "./api.ts";
import { startFinanceSimulator } from "./simulator.ts";

const MASTER_KEY = "00112233445566778899aabbccddeeff";

/** Embedded storage: PGlite in a folder, kept across restarts, secrets sealed under the master key. */
describe("finance simulator on PGlite", () => {
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "finsim-pglite-"));
  });
  afterAll(async () => {
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it("keeps its certificate and agencies across a restart on the same folder and master key", async () => {
    const first = await startFinanceSimulator({ dataDir, masterKey: MASTER_KEY, cryptoWorkers: 0 });
    const fingerprint = first.financeCertificate.fingerprintSm3();
    try {
      await first.admin.registerAgency("120101", { name: "天津", secret: "tianjin-secret-00001" });
      await first.admin.putBaseData("120101", { billKinds: [{ billCode: "12010126", name: "缴款书" }] });
    } finally {
      await first.close();
    }
    const second = await startFinanceSimulator({ dataDir, masterKey: MASTER_KEY, cryptoWorkers: 0 });
    try {
      expect(second.financeCertificate.fingerprintSm3()).toBe(fingerprint);
      const base = await second
        .agency("120101", "tianjin-secret-00001")
        .get<BaseDataResponse>("/fin/v1/base-data");
      expect(base.status).toBe(200);
      expect(base.body.billKinds.map((k) => k.billCode)).toEqual(["12010126"]);
    } finally {
      await second.close();
    }
  }, 180_000);

  it("refuses to start with another master key than the one its secrets were sealed with", async () => {
    await expect(
      startFinanceSimulator({ dataDir, masterKey: "ffeeddccbbaa99887766554433221100", cryptoWorkers: 0 }),
    ).rejects.toThrow(/master key/);
  }, 120_000);

  it("opens secrets sealed in the format before @piaoju/sealing, and seals them again (rotating the key too)", async () => {
    // Put the agency's secret back in the old layout: iv ‖ SM4-CBC(master) ‖ HMAC-SM3(master).
    const master = Buffer.from(MASTER_KEY, "hex");
    const iv = generateSm4Iv();
    const body = Buffer.concat([iv, sm4CbcEncrypt(master, iv, Buffer.from("tianjin-secret-00001"))]);
    const db = await openDatabase({ kind: "pglite", dataDir });
    await db.query("UPDATE agency SET secret_enc = $1 WHERE agency_code = '120101'", [
      Buffer.concat([body, hmacSm3(master, body)]),
    ]);
    await db.close();

    const NEW_KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
    const rotated = await startFinanceSimulator({
      dataDir,
      masterKey: `${NEW_KEY},${MASTER_KEY}`,
      cryptoWorkers: 0,
    });
    await rotated.close();
    const reopened = await openDatabase({ kind: "pglite", dataDir });
    const rows = await reopened.query<{ sealed: Uint8Array }>(
      "SELECT secret_enc AS sealed FROM agency UNION ALL SELECT private_key_enc FROM identity",
    );
    await reopened.close();
    expect(rows.length).toBe(3);
    for (const r of rows) {
      expect(Buffer.from(r.sealed).subarray(0, 5)).toEqual(Buffer.from("PJSL\x01", "latin1"));
      expect(Buffer.from(r.sealed).subarray(5, 9).toString("hex")).toBe(keyIdOf(Buffer.from(NEW_KEY, "hex")));
    }
    // Sealed again under the new key: the old one is no longer needed.
    const after = await startFinanceSimulator({ dataDir, masterKey: NEW_KEY, cryptoWorkers: 0 });
    try {
      const base = await after
        .agency("120101", "tianjin-secret-00001")
        .get<BaseDataResponse>("/fin/v1/base-data");
      expect(base.status).toBe(200);
    } finally {
      await after.close();
    }
  }, 180_000);
});
