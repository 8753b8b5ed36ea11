import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { unsignedDocumentOf } from "@piaoju/contracts";
import { createPrismaClient } from "@piaoju/persistence";
import { callerHeaders, startTestPlatform, type TestPlatform } from "@piaoju/runtime/testing";
import { Keyring, keyIdOf, Sealer } from "@piaoju/sealing";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { resealStale } from "./adapters/sealed-receipts.ts";
import { agencyCheckCodeSecret, deriveCheckCode } from "./domain/check-code.ts";
import { shanghaiDateTime } from "./domain/document.ts";
import { PrismaClient } from "./generated/prisma/client.ts";
import { issuanceService } from "./main.ts";
import {
  AGENCY,
  BILL,
  CHECK_CODE_KEY,
  CLERK,
  distribute,
  distribution,
  issueBody,
  SECRETS_KEY,
  seedReferenceData,
  TOKEN,
  waitFor,
} from "./testing/harness.ts";

/** A payer no other test uses, so finding any of these strings is finding this payer. */
const PAYER = {
  type: 1,
  code: "11010519491231002X",
  name: "隐私测试人甲",
  phone: "13912345678",
  email: "privacy.probe@example.cn",
};
const SECRETS = Object.values(PAYER).filter((v): v is string => typeof v === "string");

/** Every form the string could take in a row read as text: itself, UTF-8 as hex (bytea), base64 (a document). */
function forms(value: string): string[] {
  const bytes = Buffer.from(value, "utf8");
  return [value, bytes.toString("hex"), bytes.toString("base64").replace(/=+$/, "").slice(0, -2)];
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

/**
 * Class 8 of issue 9: the payer's ID number, name, phone and e-mail are nowhere in clear in
 * issuance's database: not in its rows (read back as text, in any encoding a column could hold
 * them), not in the PGlite files on disk; yet the API still answers with them.
 */
describe("issuance keeps the payer sealed at rest and check codes keyed (embedded, PGlite on disk)", () => {
  let t: TestPlatform;

  beforeAll(async () => {
    t = await startTestPlatform({
      mode: "embedded",
      services: [issuanceService],
      kafkaBrokers: inject("kafkaBrokers"),
      caller: CLERK,
      env: {
        PIAOJU_INTERNAL_TOKEN: TOKEN,
        PIAOJU_SECRETS_KEY: SECRETS_KEY,
        PIAOJU_CHECK_CODE_KEY: CHECK_CODE_KEY,
      },
    });
    await seedReferenceData(t.call);
    await distribute(t.probe, [distribution("WIN-01", 1, 10)]);
    await waitFor(async () => {
      const runs = await t.call("GET", `/v1/issuance/number-runs?agencyCode=${AGENCY}`);
      return (runs.body.items as unknown[]).length === 1;
    });
  });
  afterAll(async () => {
    await t?.stop();
  });

  const db = () => t.platform.databases.get("issuance")!;

  /** The tables of issuance's own and the outbox (its events' personal fields are sealed by the bus). */
  async function ownRowsAsText(): Promise<string> {
    const tables = await db().query<{ name: string }>(
      "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' AND tablename NOT LIKE '\\_prisma%'",
    );
    expect(tables.map((x) => x.name)).toEqual(
      expect.arrayContaining(["receipt", "audit_log", "piaoju_outbox"]),
    );
    let text = "";
    for (const { name } of tables) {
      const rows = await db().query<{ row: string }>(`SELECT row_to_json(x)::text AS row FROM "${name}" x`);
      text += rows.map((r) => r.row).join("\n");
    }
    return text;
  }

  it("stores no payer field in clear, in any row or database file, and answers with them", async () => {
    const res = await t.call("POST", "/v1/receipts", { ...issueBody("SEAL-0001"), payer: PAYER });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const id = res.body.id as string;

    const rows = await ownRowsAsText();
    expect(rows).toContain(id);
    for (const secret of SECRETS) for (const form of forms(secret)) expect(rows).not.toContain(form);
    // Its ReceiptRequested (the document names the payer) is in the outbox and on the bus, sealed.
    const [event] = await db().query<{ document: string }>(
      "SELECT envelope->'data'->>'document' AS document FROM piaoju_outbox WHERE envelope->'data'->>'receiptId' = $1",
      [id],
    );
    expect(event?.document).toMatch(/^sealed:/);
    await waitFor(async () =>
      filesUnder(join(t.env.PIAOJU_DATA_DIR as string, "bus")).some((f) =>
        readFileSync(f, "utf8").includes(id),
      ),
    );
    for (const file of filesUnder(join(t.env.PIAOJU_DATA_DIR as string, "bus"))) {
      const text = readFileSync(file, "utf8");
      for (const secret of SECRETS)
        for (const form of forms(secret)) expect(text.includes(form), `${secret} in ${file}`).toBe(false);
    }

    await db().query("CHECKPOINT");
    const files = filesUnder(join(t.env.PIAOJU_DATA_DIR as string, "issuance"));
    expect(files.length).toBeGreaterThan(10);
    for (const file of files) {
      const bytes = readFileSync(file);
      for (const secret of SECRETS)
        expect(bytes.includes(Buffer.from(secret, "utf8")), `${secret} in ${file}`).toBe(false);
    }

    // The API opens them: the receipt, its request's items, its document byte for byte as signed.
    const got = await t.call("GET", `/v1/receipts/${id}`);
    expect(got.body.payer).toEqual({ type: 1, code: PAYER.code, name: PAYER.name });
    const doc = await fetch(`${t.platform.url}/v1/receipts/${id}/document`, {
      headers: {
        authorization: `Bearer ${TOKEN}`,
        ...callerHeaders(CLERK, "GET", `/v1/receipts/${id}/document`),
      },
    });
    expect(await doc.text()).toContain(PAYER.name);
  });

  it("seals again a row written before sealing (payer, request and document in clear) and still serves it", async () => {
    const res = await t.call("POST", "/v1/receipts", { ...issueBody("SEAL-0002"), payer: PAYER });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const id = res.body.id as string;
    const xml = Buffer.from(
      await (
        await fetch(`${t.platform.url}/v1/receipts/${id}/document`, {
          headers: {
            authorization: `Bearer ${TOKEN}`,
            ...callerHeaders(CLERK, "GET", `/v1/receipts/${id}/document`),
          },
        })
      ).arrayBuffer(),
    );
    // Put the row back the way 0002's code wrote it.
    await db().query(
      `UPDATE receipt SET payer_code = $2, payer_name = $3, sealed_payer = NULL, sealed_request = NULL,
         request = $4::jsonb, document = $5 WHERE id = $1`,
      [id, PAYER.code, PAYER.name, JSON.stringify({ ...issueBody("SEAL-0002"), payer: PAYER }), xml],
    );
    expect(await ownRowsAsText()).toContain(PAYER.phone);

    const prisma = createPrismaClient(db(), PrismaClient);
    const sealer = new Sealer(Keyring.parse(SECRETS_KEY));
    expect(await resealStale(prisma, sealer)).toBe(1);
    expect(await resealStale(prisma, sealer)).toBe(0);

    const rows = await ownRowsAsText();
    for (const secret of SECRETS) for (const form of forms(secret)) expect(rows).not.toContain(form);
    const got = await t.call("GET", `/v1/receipts/${id}`);
    expect(got.body.payer).toEqual({ type: 1, code: PAYER.code, name: PAYER.name });
    const doc = Buffer.from(
      await (
        await fetch(`${t.platform.url}/v1/receipts/${id}/document`, {
          headers: {
            authorization: `Bearer ${TOKEN}`,
            ...callerHeaders(CLERK, "GET", `/v1/receipts/${id}/document`),
          },
        })
      ).arrayBuffer(),
    );
    expect(unsignedDocumentOf(doc).equals(xml)).toBe(true);
  });

  it("makes the check code with the agency's secret and stores the id of the key that made it", async () => {
    const res = await t.call("POST", "/v1/receipts", { ...issueBody("SEAL-0003"), payer: PAYER });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const [row] = await db().query<{ key: string; code: string; issued: Date; number: string }>(
      "SELECT check_code_key_id AS key, check_code AS code, issued_at AS issued, number::text AS number FROM receipt WHERE id = $1",
      [res.body.id],
    );
    const root = Buffer.from(CHECK_CODE_KEY, "hex");
    expect(row?.key).toBe(keyIdOf(root));
    const fields = {
      billCode: BILL,
      number: String(row?.number).padStart(10, "0"),
      issueDate: shanghaiDateTime(new Date(row!.issued)).date,
      totalFen: BigInt(issueBody("x").totalFen as number),
      agencyCode: AGENCY,
      payerCode: PAYER.code,
      bizSerialNo: "SEAL-0003",
    };
    expect(row?.code).toBe(deriveCheckCode(fields, agencyCheckCodeSecret(root, AGENCY)));
    // Not the unkeyed recipe anyone could compute from the printed fields.
    expect(row?.code).not.toBe(deriveCheckCode(fields, agencyCheckCodeSecret(Buffer.alloc(16), AGENCY)));
    const verified = await t.call(
      "GET",
      `/v1/receipts/verify?billCode=${BILL}&number=${fields.number}&checkCode=${row?.code}`,
    );
    expect(verified.status, JSON.stringify(verified.body)).toBe(200);
  });
});
