import type { Certificate, DevCa, Sm2PrivateKey } from "@piaoju/gm-crypto";
import type { Database } from "@piaoju/persistence";
import type { Sealer } from "@piaoju/sealing";
import type { ReceiptCryptoRunner } from "./crypto-pool.ts";

/** Finance's own key material. */
export interface FinanceIdentity {
  /** The CA that certifies agencies' signing certificates. */
  ca: DevCa;
  /** The key finance supervises (signs) receipts with, and its certificate (issued by `ca`). */
  key: Sm2PrivateKey;
  certificate: Certificate;
  certificateSm3: string;
}

/** Counters for tests and the outage report (this process's life only). */
export interface Stats {
  resubmissions: number;
  faultErrors: number;
  faultLostReplies: number;
  faultUnavailable: number;
}

/** What every use case works with. */
export interface SimContext {
  db: Database;
  /** Seals agency secrets and finance's private keys at rest (@piaoju/sealing). */
  sealer: Sealer;
  identity: FinanceIdentity;
  /** Finance's CA first, then configured agency CAs. */
  trustedAgencyCas: Certificate[];
  autoApprove: boolean;
  firstNumber: bigint;
  stats: Stats;
  /** Agency signature checks and finance signatures (worker threads, or inline). */
  crypto: ReceiptCryptoRunner;
}

/** node-postgres returns bytea as Buffer, PGlite as Uint8Array. */
export function bytes(value: unknown): Buffer {
  return Buffer.from(value as Uint8Array);
}

export function iso(value: unknown): string {
  return (value instanceof Date ? value : new Date(String(value))).toISOString();
}
