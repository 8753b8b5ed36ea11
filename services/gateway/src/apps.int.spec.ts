import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { signRequest } from "@piaoju/business-client";
import { hmacSm3, sm3, sm4CbcEncrypt } from "@piaoju/gm-crypto";
import { createPrismaClient, type Database, migrate, openDatabase } from "@piaoju/persistence";
import { createTestDatabase, type TestDatabase } from "@piaoju/persistence/testing";
import { Keyring, keyIdOf, LEGACY_FORMATS, Sealer } from "@piaoju/sealing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Apps } from "./app/apps.ts";
import { PrismaClient } from "./generated/prisma/client.ts";

const OLD_KEY = Buffer.from("00112233445566778899aabbccddeeff", "hex");
const NEW_KEY = Buffer.from("ffeeddccbbaa99887766554433221100", "hex");
const MIGRATIONS = fileURLToPath(new URL("../prisma/migrations", import.meta.url));

/** What the gateway wrote before @piaoju/sealing: iv ‖ SM4-CBC under the key ‖ HMAC-SM3 (derived MAC key). */
function oldSeal(key: Buffer, plain: string): Buffer {
  const iv = randomBytes(16);
  const ct = sm4CbcEncrypt(key, iv, Buffer.from(plain));
  const mac = sm3(Buffer.concat([Buffer.from("piaoju/seal/mac\0"), key]));
  return Buffer.concat([iv, ct, hmacSm3(mac, Buffer.concat([iv, ct]))]);
}

/** An app secret stored before the shared format, and the key rotated at the same time: both still work. */
describe("the gateway's app secrets across the sealing format change and a key rotation (PostgreSQL)", () => {
  let server: TestDatabase;
  let db: Database;

  beforeAll(async () => {
    server = await createTestDatabase({ prefix: "gateway_apps" });
    db = await openDatabase({ kind: "postgres", url: server.url });
    await migrate(db, MIGRATIONS);
  });
  afterAll(async () => {
    await db?.close();
    await server?.drop();
  });

  it("opens a secret of the old format, seals it again under the current key, and still authenticates", async () => {
    const secret = "s".repeat(43);
    await db.query(
      `INSERT INTO app (app_id, name, agency_code, issuing_points, sealed_secret, enabled, created_by)
       VALUES ('app_old', 'old', '110101', '{WIN-01}', $1, true, 'test')`,
      [oldSeal(OLD_KEY, secret)],
    );
    const prisma = createPrismaClient(db, PrismaClient);
    const sealer = new Sealer(new Keyring(NEW_KEY, [OLD_KEY]), { legacy: [LEGACY_FORMATS.gatewayDelivery] });
    const apps = new Apps(prisma, sealer, () => new Date());
    expect(await apps.resealStale()).toBe(1);
    expect(await apps.resealStale()).toBe(0);
    const [row] = await db.query<{ sealed: Uint8Array }>(
      "SELECT sealed_secret AS sealed FROM app WHERE app_id = 'app_old'",
    );
    expect(Buffer.from(row!.sealed).subarray(0, 4).toString("latin1")).toBe("PJSL");
    expect(Buffer.from(row!.sealed).subarray(5, 9).toString("hex")).toBe(keyIdOf(NEW_KEY));

    // The old key is no longer needed.
    const after = new Apps(prisma, new Sealer(new Keyring(NEW_KEY)), () => new Date());
    const timestamp = String(Date.now());
    const request = { method: "GET", pathWithQuery: "/api/v1/receipts?bizSerialNo=x", body: Buffer.alloc(0) };
    const signature = signRequest(secret, { ...request, timestamp, nonce: "nonce-0000000000001" });
    const calling = await after.authenticate(
      {
        "x-piaoju-app-id": "app_old",
        "x-piaoju-timestamp": timestamp,
        "x-piaoju-nonce": "nonce-0000000000001",
        "x-piaoju-signature": signature,
      },
      request,
    );
    expect(calling.appId).toBe("app_old");
    await prisma.$disconnect();
  });
});
