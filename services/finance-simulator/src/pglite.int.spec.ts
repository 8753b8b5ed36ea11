import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
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
});
