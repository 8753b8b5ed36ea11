import { parentPort, workerData } from "node:worker_threads";
import { Certificate, Sm2PrivateKey } from "@piaoju/gm-crypto";
import { type FinanceSigner, receiptCrypto } from "../domain/receipt-crypto.ts";

/** A crypto worker: finance's key and the trusted CAs arrive once, receipts one message each. */
const data = workerData as { keyDer: Uint8Array; certificateDer: Uint8Array; trustedDer: Uint8Array[] };
const signer: FinanceSigner = {
  key: Sm2PrivateKey.fromDer(data.keyDer),
  certificate: Certificate.fromDer(data.certificateDer),
  trustedAgencyCas: data.trustedDer.map((der) => Certificate.fromDer(der)),
};

parentPort!.on(
  "message",
  (task: { id: number; document: Uint8Array; agencySignature: Uint8Array; at: number }) => {
    try {
      const outcome = receiptCrypto(
        signer,
        Buffer.from(task.document),
        Buffer.from(task.agencySignature),
        new Date(task.at),
      );
      parentPort!.postMessage({ id: task.id, outcome });
    } catch (error) {
      parentPort!.postMessage({ id: task.id, error: error instanceof Error ? error.message : String(error) });
    }
  },
);
parentPort!.postMessage({ ready: true });
