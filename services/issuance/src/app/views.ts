import { allowedCommands, type ReceiptStatus } from "../domain/lifecycle.ts";
import type { IssueRequest } from "../domain/request.ts";
import type { Receipt } from "../generated/prisma/client.ts";
import type { ReceiptSource } from "./context.ts";

/** The answers of the issuance use cases, shaped from their rows. */

export interface ReceiptView {
  id: string;
  agencyCode: string;
  bizSerialNo: string;
  issuingPointCode: string;
  billCode: string;
  number: string;
  checkCode: string;
  status: ReceiptStatus;
  source: ReceiptSource;
  totalFen: number;
  payer: { type: number; code: string; name: string };
  items: IssueRequest["items"];
  issuedAt: string;
  documentSm3: string;
  kind: "blue" | "red";
  /** A red receipt's original. */
  originalReceiptId?: string;
  agencySignature?: { signedAt: string; keyId: string; value: string };
  financeSignature?: { supervisedAt: string; financeRef: string; value: string };
  /** Why it was voided, or (red receipt) why the original is red-flushed. */
  reason?: string;
  voidedAt?: string;
  redFlushedAt?: string;
  paper?: { billCode: string; number: string; exchangedAt: string };
  booked?: { at: string; by: string };
  /** What can be done with it now (for clients deciding which buttons to show). */
  allowedCommands: string[];
  /** The clerk or business system that issued it (the "own receipts" data scope). */
  createdBy: string;
}

/** What a step of a receipt's life answers. */
export interface Outcome {
  receipt: ReceiptView;
  /** False when nothing changed: a retry of what was already done. */
  changed: boolean;
}

export function formatNumber(n: bigint): string {
  return n.toString().padStart(10, "0");
}

/** The key fields every receipt event starts with. */
export function ref(r: Receipt) {
  return { receiptId: r.id, agencyCode: r.agencyCode, billCode: r.billCode, number: formatNumber(r.number) };
}

export function kindOf(r: Receipt): "blue" | "red" {
  return r.kind === "RED" ? "red" : "blue";
}

export function itemView(i: {
  agencyCode: string;
  code: string;
  name: string;
  unit: string;
  standardFen: bigint | null;
  enabled: boolean;
}) {
  return {
    agencyCode: i.agencyCode,
    code: i.code,
    name: i.name,
    unit: i.unit,
    standardFen: i.standardFen === null ? null : Number(i.standardFen),
    enabled: i.enabled,
  };
}

export function pointView(p: { agencyCode: string; code: string; name: string; enabled: boolean }) {
  return { agencyCode: p.agencyCode, code: p.code, name: p.name, enabled: p.enabled };
}

export function receiptView(r: Receipt): ReceiptView {
  const request = r.request as unknown as IssueRequest;
  return {
    id: r.id,
    agencyCode: r.agencyCode,
    bizSerialNo: r.bizSerialNo,
    issuingPointCode: r.issuingPointCode,
    createdBy: r.createdBy,
    billCode: r.billCode,
    number: formatNumber(r.number),
    checkCode: r.checkCode,
    status: r.status,
    kind: kindOf(r),
    ...(r.originalReceiptId ? { originalReceiptId: r.originalReceiptId } : {}),
    source: r.source,
    totalFen: Number(r.totalFen),
    payer: { type: r.payerType, code: r.payerCode ?? "", name: r.payerName ?? "" },
    items: request.items,
    issuedAt: r.issuedAt.toISOString(),
    documentSm3: r.documentSm3,
    ...(r.agencySignedAt && r.agencySignature
      ? {
          agencySignature: {
            signedAt: r.agencySignedAt.toISOString(),
            keyId: r.signingKeyId ?? "",
            value: Buffer.from(r.agencySignature).toString("base64"),
          },
        }
      : {}),
    ...(r.status !== "REQUESTED" && r.supervisedAt && r.financeSignature
      ? {
          financeSignature: {
            supervisedAt: r.supervisedAt.toISOString(),
            financeRef: r.financeRef ?? "",
            value: Buffer.from(r.financeSignature).toString("base64"),
          },
        }
      : {}),
    ...(r.reason ? { reason: r.reason } : {}),
    ...(r.voidedAt ? { voidedAt: r.voidedAt.toISOString() } : {}),
    ...(r.redFlushedAt ? { redFlushedAt: r.redFlushedAt.toISOString() } : {}),
    ...(r.paperBillCode && r.paperNumber
      ? {
          paper: {
            billCode: r.paperBillCode,
            number: r.paperNumber,
            exchangedAt: r.paperExchangedAt?.toISOString() ?? "",
          },
        }
      : {}),
    ...(r.bookedAt ? { booked: { at: r.bookedAt.toISOString(), by: r.bookedBy ?? "" } } : {}),
    // A red receipt is only ever voided (before it is issued); the rest applies to blue ones.
    allowedCommands:
      r.kind === "RED" ? allowedCommands(r.status).filter((c) => c === "void") : allowedCommands(r.status),
  };
}
