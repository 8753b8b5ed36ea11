/**
 * Supervision throughput of the simulator on the machine's PostgreSQL, over HTTP:
 * `pnpm --filter @piaoju/finance-simulator bench [receipts]`. Baseline: one receipt per request;
 * then batches of 100. Prints receipts per second and the ratio.
 */
import { randomUUID } from "node:crypto";
import { Certificate, createSignedData, Sm2PrivateKey, sm3 } from "@piaoju/gm-crypto";
import { createTestDatabase } from "@piaoju/persistence/testing";
import type { StockApplicationResponse, SupervisionBatchResponse, SupervisionReceipt } from "./api.ts";
import { startFinanceSimulator } from "./simulator.ts";

const total = Number(process.argv[2] ?? 600);
const database = await createTestDatabase({ prefix: "finsim_bench" });
const sim = await startFinanceSimulator({ databaseUrl: database.url });
try {
  await sim.admin.registerAgency("110101", { name: "bench", secret: "bench-secret-0123456789" });
  await sim.admin.putBaseData("110101", { billKinds: [{ billCode: "11010126", name: "bench" }] });
  const key = Sm2PrivateKey.generate();
  const cert = Certificate.fromPem(
    (await sim.admin.issueAgencyCertificate("110101", key.publicKey.toPem())).certificatePem,
  );
  const agency = sim.agency("110101", "bench-secret-0123456789");
  const stock = await agency.post<StockApplicationResponse>("/fin/v1/stock-applications", {
    applicationId: "bench",
    billCode: "11010126",
    quantity: total * 2,
  });
  let next = BigInt(stock.body.segments[0]!.startNumber);
  const receipt = (): SupervisionReceipt => {
    const number = (next++).toString().padStart(10, "0");
    const document = Buffer.from(
      `<EInvoice><EInvoiceNumber>${number}</EInvoiceNumber>${"x".repeat(2000)}</EInvoice>`,
    );
    return {
      receiptId: randomUUID(),
      billCode: "11010126",
      number,
      checkCode: "123456",
      kind: "blue",
      totalFen: 100,
      issuedAt: new Date().toISOString(),
      document: document.toString("base64"),
      documentSm3: sm3(document).toString("hex"),
      agencySignature: createSignedData({
        content: document,
        detached: true,
        signerKey: key,
        signerCert: cert,
      }).toString("base64"),
    };
  };
  const run = async (batchSize: number) => {
    const receipts = Array.from({ length: total / 2 }, receipt);
    const started = performance.now();
    for (let i = 0; i < receipts.length; i += batchSize) {
      const reply = await agency.post<SupervisionBatchResponse>("/fin/v1/supervision/batches", {
        batchId: `bench-${i}`,
        receipts: receipts.slice(i, i + batchSize),
      });
      if (reply.body.results.some((r) => r.status !== "SUPERVISED"))
        throw new Error(JSON.stringify(reply.body));
    }
    return receipts.length / ((performance.now() - started) / 1000);
  };
  const single = await run(1);
  const batched = await run(100);
  console.log(`supervision, ${total / 2} receipts each way (2 KB documents)`);
  console.log(`  one receipt per request (baseline): ${single.toFixed(0)} receipts/s`);
  console.log(
    `  batches of 100:                     ${batched.toFixed(0)} receipts/s  (${(batched / single).toFixed(2)}x)`,
  );
} finally {
  await sim.close();
  await database.drop();
}
