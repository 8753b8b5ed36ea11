/**
 * Supervision throughput of the simulator on the machine's PostgreSQL, over HTTP:
 * `pnpm --filter @piaoju/finance-simulator bench [receipts]`. Baseline: crypto on the event loop,
 * one receipt per request; then batches of 100 inline; then batches of 100 with crypto worker
 * threads. Prints receipts per second and the ratios to the baseline.
 */
import { randomUUID } from "node:crypto";
import { Certificate, createSignedData, Sm2PrivateKey, sm3 } from "@piaoju/gm-crypto";
import { createTestDatabase } from "@piaoju/persistence/testing";
import type { StockApplicationResponse, SupervisionBatchResponse, SupervisionReceipt } from "./api.ts";
import { startFinanceSimulator } from "./simulator.ts";

const perRun = Number(process.argv[2] ?? 300);

async function measure(cryptoWorkers: number, batchSize: number): Promise<number> {
  const database = await createTestDatabase({ prefix: "finsim_bench" });
  const sim = await startFinanceSimulator({ databaseUrl: database.url, cryptoWorkers });
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
      quantity: perRun + 10,
    });
    let next = BigInt(stock.body.segments[0]!.startNumber);
    const all = Array.from({ length: perRun + 10 }, (): SupervisionReceipt => {
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
    });
    // Warm-up (JIT, worker threads loading their code), not timed.
    const receipts = all.slice(10);
    await agency.post("/fin/v1/supervision/batches", { batchId: "warm-up", receipts: all.slice(0, 10) });
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
  } finally {
    await sim.close();
    await database.drop();
  }
}

const baseline = await measure(0, 1);
const batched = await measure(0, 100);
const workers = await measure(2, 100);
const row = (label: string, rate: number) =>
  `  ${label.padEnd(44)} ${rate.toFixed(0).padStart(5)} receipts/s  (${(rate / baseline).toFixed(2)}x)`;
console.log(`supervision of ${perRun} receipts per run (2 KB documents), over HTTP on PostgreSQL`);
console.log(row("inline crypto, one receipt per request (base)", baseline));
console.log(row("inline crypto, batches of 100", batched));
console.log(row("2 crypto worker threads, batches of 100", workers));
