import { randomUUID } from "node:crypto";
import type { CatalogEvent } from "@piaoju/contracts";

/**
 * A synthetic year of one agency's receipts as issuance and stock publish them, for the
 * benchmark (test/bench/reporting.ts) and the projection's int spec: receipt i is spread over
 * the year, 2 % are voided before supervision, the rest requested, signed and issued.
 */
export interface Workload {
  receipts: number;
  agency: string;
  bill: string;
  points: readonly string[];
  clerks: readonly string[];
  year: number;
}

export function workload(receipts: number): Workload {
  return {
    receipts,
    agency: "110101",
    bill: "11010126",
    points: Array.from({ length: 20 }, (_, i) => `WIN-${String(i + 1).padStart(2, "0")}`),
    clerks: Array.from({ length: 40 }, (_, i) => `clerk.${i + 1}`),
    year: 2026,
  };
}

/** Receipt i's amount in fen (1-3 passports at 120.00, every fifth with 50.00 express). */
export const totalFenOf = (i: number): number => (1 + (i % 3)) * 12000 + (i % 5 === 0 ? 5000 : 0);
/** Receipt i is voided before supervision. */
export const isVoided = (i: number): boolean => i % 50 === 7;

/** The events of receipt i: spread over the year, 2 % voided before supervision, 3 % red-flushed. */
export function eventsOf(w: Workload, i: number): CatalogEvent[] {
  const id = randomUUID();
  const point = w.points[i % w.points.length]!;
  const clerk = w.clerks[(i * 7) % w.clerks.length]!;
  const issuedAt = new Date(
    Date.UTC(w.year, 0, 1) + Math.floor((i / w.receipts) * 364 * 86_400_000),
  ).toISOString();
  const number = String(i + 1).padStart(10, "0");
  const books = 1 + (i % 3);
  const total = totalFenOf(i);
  const items =
    `<Item><ItemCode>001</ItemCode><ItemName>护照工本费</ItemName><ItemQuantity>${books}</ItemQuantity>` +
    `<ItemAmount>${(books * 120).toFixed(2)}</ItemAmount></Item>` +
    (i % 5 === 0
      ? "<Item><ItemCode>002</ItemCode><ItemName>加急费</ItemName><ItemQuantity>1</ItemQuantity><ItemAmount>50.00</ItemAmount></Item>"
      : "");
  const payer = {
    type: 1 as const,
    code: `1101051990${String(i % 100000).padStart(7, "0")}X`,
    name: `交款人${i % 50000}`,
  };
  const document = Buffer.from(
    `<EInvoice><PayerParty><PayerPartyType>1</PayerPartyType><PayerPartyCode>${payer.code}</PayerPartyCode>` +
      `<PayerPartyName>${payer.name}</PayerPartyName></PayerParty><HandlingPerson>${clerk}</HandlingPerson>` +
      `<Details>${items}</Details></EInvoice>`,
  ).toString("base64");
  const ref = { receiptId: id, agencyCode: w.agency, billCode: w.bill, number };
  const out: CatalogEvent[] = [
    envelope("issuance.ReceiptRequested", {
      ...ref,
      issuingPointCode: point,
      bizSerialNo: `B-${i}`,
      checkCode: number.slice(-6),
      totalFen: total,
      payerType: 1,
      issuedAt,
      documentSm3: "0".repeat(64),
      document,
      kind: "blue",
    }),
  ];
  if (isVoided(i)) {
    out.push(
      envelope("issuance.ReceiptVoided", {
        ...ref,
        issuingPointCode: point,
        reason: "作废",
        voidedAt: issuedAt,
      }),
    );
    return out;
  }
  out.push(
    envelope("issuance.ReceiptSubmittedForSupervision", {
      ...ref,
      kind: "blue",
      issuingPointCode: point,
      checkCode: number.slice(-6),
      totalFen: total,
      issuedAt,
      document: "",
      documentSm3: "0".repeat(64),
      agencySignature: "",
    }),
    envelope("issuance.ReceiptIssued", {
      ...ref,
      kind: "blue",
      bizSerialNo: `B-${i}`,
      issuingPointCode: point,
      checkCode: number.slice(-6),
      issuedAt,
      supervisedAt: issuedAt,
      totalFen: total,
      payer,
      items: [{ itemCode: "001", itemName: "护照工本费", quantity: String(books), amountFen: books * 12000 }],
      handlingPerson: clerk,
      document: "",
      documentSm3: "0".repeat(64),
      agencySignature: "",
      financeSignature: "",
    }),
  );
  return out;
}

export function envelope(type: string, data: Record<string, unknown>): CatalogEvent {
  return {
    id: randomUUID(),
    type,
    version: 1,
    occurredAt: new Date().toISOString(),
    key: String(data.receiptId ?? data.agencyCode),
    producer: "bench",
    data,
  } as unknown as CatalogEvent;
}

/** Stock's side of the year: a segment stocked and runs distributed to each point. */
export function stockEvents(w: Workload): CatalogEvent[] {
  const segmentId = randomUUID();
  const at = new Date(Date.UTC(w.year, 0, 1)).toISOString();
  const out: CatalogEvent[] = [
    envelope("stock.BillKindRegistered", {
      agencyCode: w.agency,
      billCode: w.bill,
      name: "非税收入一般缴款书（电子）",
    }),
    envelope("stock.SegmentStocked", {
      segmentId,
      agencyCode: w.agency,
      billCode: w.bill,
      startNumber: "0000000001",
      endNumber: "0002000000",
      count: 2_000_000,
      confirmedBy: "bench",
      confirmedAt: at,
    }),
  ];
  const perPoint = Math.ceil(w.receipts / w.points.length);
  w.points.forEach((point, p) => {
    out.push(
      envelope("stock.SegmentDistributed", {
        distributionId: randomUUID(),
        segmentId,
        agencyCode: w.agency,
        billCode: w.bill,
        issuingPointCode: point,
        startNumber: String(p * perPoint + 1).padStart(10, "0"),
        endNumber: String((p + 1) * perPoint).padStart(10, "0"),
        count: perPoint,
        distributedAt: at,
        distributedBy: "rule",
      }),
    );
  });
  return out;
}
