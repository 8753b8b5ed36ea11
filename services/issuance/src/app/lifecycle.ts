import { randomUUID } from "node:crypto";
import {
  type Emit,
  ReceiptBooked,
  ReceiptIssued,
  ReceiptPaperExchanged,
  ReceiptRedFlushed,
  ReceiptRequested,
  ReceiptSubmittedForSupervision,
  ReceiptVoided,
} from "@piaoju/contracts";
import { sm3 } from "@piaoju/gm-crypto";
import { AppError } from "@piaoju/runtime";
import { buildReceiptDocument, shanghaiDateTime } from "../domain/document.ts";
import { decide, type ReceiptCommand } from "../domain/lifecycle.ts";
import { isSameRedFlush, type ReceiptLine, redFlushRefusal, redLines } from "../domain/red-flush.ts";
import type { IssueRequest } from "../domain/request.ts";
import type { Prisma, Receipt } from "../generated/prisma/client.ts";
import {
  audit,
  billNameOr,
  documentItem,
  formatNumber,
  type IssuanceApp,
  type ReceiptView,
  receiptView,
  type Tx,
} from "./issuance.ts";

/** What the signing gateway said (signing.ReceiptSigned). */
export interface AgencySignature {
  receiptId: string;
  agencyCode: string;
  documentSm3: string;
  signature: string;
  keyId: string;
  signedAt: string;
}

/** What finance said (finance.ReceiptSupervised). */
export interface FinanceSupervision {
  receiptId: string;
  agencyCode: string;
  billCode: string;
  number: string;
  financeSignature: string;
  financeRef: string;
  supervisedAt: string;
}

export interface Outcome {
  receipt: ReceiptView;
  /** False when nothing changed: a retry of what was already done. */
  changed: boolean;
}

/**
 * A receipt's life after it was requested: the signing and finance outcomes (consumed from the
 * bus), and what people do to an issued receipt (red-flush, paper exchange, booking, void).
 *
 * Every step locks the receipt's row, decides from its state (domain/lifecycle.ts), writes
 * the change, an audit row and its events in one transaction. An outcome that arrives twice,
 * or after the receipt moved on, finds the state already past it and changes nothing.
 */
export class ReceiptLifecycle {
  constructor(
    private readonly issuance: IssuanceApp,
    private readonly clock: () => Date,
    private readonly warn: (message: string, detail: Record<string, unknown>) => void = () => {},
  ) {}

  // ------------------------------------------------------------------------------------------
  // Outcomes from the signing gateway and finance (consumers)

  /** signing.ReceiptSigned: the agency's signature is on the document issuance built. */
  async agencySigned(tx: Tx, emit: Emit, s: AgencySignature): Promise<void> {
    const receipt = await lockReceipt(tx, s.receiptId, s.agencyCode);
    if (receipt.status !== "REQUESTED") {
      // A repeat, or a receipt a clerk voided while the signer worked: nothing to do.
      if (receipt.status === "VOIDED")
        this.warn("signature for a voided receipt ignored", { id: receipt.id });
      return;
    }
    if (s.documentSm3 !== receipt.documentSm3) {
      // The signer signed other bytes: keep the receipt waiting and let an operator look (dead letter).
      throw new AppError(
        "conflict",
        `the signature of receipt ${receipt.id} covers document ${s.documentSm3}, not the one issued (${receipt.documentSm3})`,
        { code: "SIGNED_DOCUMENT_MISMATCH" },
      );
    }
    let signed = await tx.receipt.update({
      where: { id: receipt.id },
      data: {
        status: decide(receipt.status, { type: "agencySign" }),
        agencySignature: new Uint8Array(Buffer.from(s.signature, "base64")),
        agencySignedAt: new Date(s.signedAt),
        signingKeyId: s.keyId,
      },
    });
    await audit(tx, `signing:${s.keyId}`, "receipt.agency-sign", `receipt:${receipt.id}`, {
      documentSm3: s.documentSm3,
      signedAt: s.signedAt,
    });
    if (signed.financeSignature && signed.supervisedAt) {
      // Finance's answer came first (the bus does not order two topics): finish now.
      signed = await this.issue(tx, emit, signed);
      return;
    }
    emit(ReceiptSubmittedForSupervision, {
      ...ref(signed),
      kind: kindOf(signed),
      ...(signed.originalReceiptId ? { originalReceiptId: signed.originalReceiptId } : {}),
      issuingPointCode: signed.issuingPointCode,
      checkCode: signed.checkCode,
      totalFen: Number(signed.totalFen),
      issuedAt: signed.issuedAt.toISOString(),
      document: Buffer.from(signed.document).toString("base64"),
      documentSm3: signed.documentSm3,
      agencySignature: s.signature,
    });
  }

  /** signing.ReceiptSigningRefused: the receipt never becomes formal; its number is voided. */
  async signingRefused(
    tx: Tx,
    emit: Emit,
    r: { receiptId: string; agencyCode: string; code: string; reason: string },
  ): Promise<void> {
    const receipt = await lockReceipt(tx, r.receiptId, r.agencyCode);
    if (receipt.status !== "REQUESTED") return;
    await this.voidIn(tx, emit, receipt, "signing", `signing refused (${r.code}): ${r.reason}`);
  }

  /** finance.ReceiptSupervised: finance's signature is on it; the receipt is issued. */
  async supervised(tx: Tx, emit: Emit, f: FinanceSupervision): Promise<void> {
    const receipt = await lockReceipt(tx, f.receiptId, f.agencyCode);
    if (receipt.billCode !== f.billCode || formatNumber(receipt.number) !== f.number) {
      throw new AppError(
        "conflict",
        `finance supervised ${f.billCode}/${f.number} under receipt ${receipt.id}, which is ${receipt.billCode}/${formatNumber(receipt.number)}`,
        { code: "SUPERVISED_NUMBER_MISMATCH" },
      );
    }
    const supervision = {
      financeSignature: new Uint8Array(Buffer.from(f.financeSignature, "base64")),
      financeRef: f.financeRef,
      supervisedAt: new Date(f.supervisedAt),
    };
    if (receipt.status === "REQUESTED") {
      // Ahead of the agency's signature (another topic, another partition): keep it until that comes.
      if (!receipt.financeSignature)
        await tx.receipt.update({ where: { id: receipt.id }, data: supervision });
      return;
    }
    if (receipt.status !== "AGENCY_SIGNED") {
      if (receipt.status === "VOIDED") {
        this.warn("finance supervised a receipt already voided", {
          id: receipt.id,
          financeRef: f.financeRef,
        });
      }
      return;
    }
    const withFinance = await tx.receipt.update({ where: { id: receipt.id }, data: supervision });
    await this.issue(tx, emit, withFinance);
  }

  /** finance.ReceiptSupervisionRejected: void, with finance's reason. */
  async supervisionRejected(
    tx: Tx,
    emit: Emit,
    r: { receiptId: string; agencyCode: string; code: string; reason: string },
  ): Promise<void> {
    const receipt = await lockReceipt(tx, r.receiptId, r.agencyCode);
    if (receipt.status !== "REQUESTED" && receipt.status !== "AGENCY_SIGNED") return;
    await this.voidIn(tx, emit, receipt, "finance", `finance rejected (${r.code}): ${r.reason}`);
  }

  /** AGENCY_SIGNED + finance's signature → ISSUED, announced with everything delivery needs. */
  private async issue(tx: Tx, emit: Emit, receipt: Receipt): Promise<Receipt> {
    const issued = await tx.receipt.update({
      where: { id: receipt.id },
      data: { status: decide(receipt.status, { type: "superviseByFinance" }) },
    });
    await audit(tx, `finance:${issued.financeRef ?? ""}`, "receipt.supervise", `receipt:${issued.id}`, {
      financeRef: issued.financeRef,
      supervisedAt: issued.supervisedAt?.toISOString(),
    });
    const request = issued.request as unknown as IssueRequest;
    const lines = await this.linesOf(tx, issued);
    emit(ReceiptIssued, {
      ...ref(issued),
      kind: kindOf(issued),
      ...(issued.originalReceiptId ? { originalReceiptId: issued.originalReceiptId } : {}),
      bizSerialNo: issued.bizSerialNo,
      issuingPointCode: issued.issuingPointCode,
      checkCode: issued.checkCode,
      issuedAt: issued.issuedAt.toISOString(),
      supervisedAt: issued.supervisedAt!.toISOString(),
      totalFen: Number(issued.totalFen),
      payer: request.payer,
      items: lines.map((l) => ({
        itemCode: l.itemCode,
        itemName: l.itemName,
        unit: l.unit,
        quantity: l.quantity,
        ...(l.standardFen === null ? {} : { standardFen: l.standardFen }),
        amountFen: l.amountFen,
      })),
      ...(request.remark ? { remark: request.remark } : {}),
      handlingPerson: request.handlingPerson,
      ...(request.checker ? { checker: request.checker } : {}),
      document: Buffer.from(issued.document).toString("base64"),
      documentSm3: issued.documentSm3,
      agencySignature: Buffer.from(issued.agencySignature!).toString("base64"),
      financeSignature: Buffer.from(issued.financeSignature!).toString("base64"),
    });
    if (issued.kind === "RED" && issued.originalReceiptId) await this.flushOriginal(tx, emit, issued);
    return issued;
  }

  /** The red receipt is issued: its original is now red-flushed (冲红). */
  private async flushOriginal(tx: Tx, emit: Emit, red: Receipt): Promise<void> {
    const original = await lockReceipt(tx, red.originalReceiptId!, red.agencyCode);
    if (original.status !== "ISSUED") {
      // Paper exchange and booking are refused while a red-flush is on its way, so this is a repeat.
      if (original.status !== "RED_FLUSHED") {
        this.warn("red receipt issued for an original not in ISSUED", { id: original.id, red: red.id });
      }
      return;
    }
    const at = this.clock();
    const reason = red.reason ?? "red-flushed";
    await tx.receipt.update({
      where: { id: original.id },
      data: { status: decide(original.status, { type: "redFlush", reason }), redFlushedAt: at },
    });
    await audit(tx, red.createdBy, "receipt.red-flushed", `receipt:${original.id}`, {
      redReceiptId: red.id,
      redNumber: formatNumber(red.number),
      reason,
    });
    emit(ReceiptRedFlushed, {
      ...ref(original),
      redReceiptId: red.id,
      redBillCode: red.billCode,
      redNumber: formatNumber(red.number),
      reason,
      redFlushedAt: at.toISOString(),
    });
  }

  /** The printed lines: kept at issue time; receipts from before that was kept read the items now. */
  private async linesOf(tx: Tx, receipt: Receipt): Promise<ReceiptLine[]> {
    if (receipt.lines) return receipt.lines as unknown as ReceiptLine[];
    const request = receipt.request as unknown as IssueRequest;
    const items = await tx.incomeItem.findMany({
      where: { agencyCode: receipt.agencyCode, code: { in: request.items.map((i) => i.itemCode) } },
    });
    const byCode = new Map(items.map((i) => [i.code, i]));
    return request.items.map((line) => {
      const item = byCode.get(line.itemCode);
      return {
        itemCode: line.itemCode,
        itemName: item?.name ?? line.itemCode,
        unit: item?.unit ?? "",
        quantity: line.quantity,
        standardFen: item?.standardFen == null ? null : Number(item.standardFen),
        amountFen: line.amountFen,
      };
    });
  }

  // ------------------------------------------------------------------------------------------
  // What people do (a clerk on the internal API, a business system through the gateway)

  /**
   * 冲红: creates the red receipt of an issued one, with its own number (the original's
   * issuing point, the same gap-free allocation), check code and document, negative amounts,
   * and sends it down the same signing and supervision path. The original becomes RED_FLUSHED
   * when the red receipt is issued. A retry (same reason) gets the same red receipt back;
   * concurrent requests queue on the original's row lock, so one red receipt is made.
   */
  async redFlush(
    actor: string,
    originalId: string,
    input: { reason: string; handlingPerson: string },
  ): Promise<Outcome> {
    return this.issuance.inTransaction((tx, emit) => this.redFlushIn(tx, emit, actor, originalId, input));
  }

  /** The red-flush inside a transaction of the caller's (a payment's refund taken from the bus). */
  async redFlushIn(
    tx: Tx,
    emit: Emit,
    actor: string,
    originalId: string,
    input: { reason: string; handlingPerson: string },
  ): Promise<Outcome> {
    const original = await lockReceipt(tx, originalId);
    const live = await liveRedOf(tx, original.id);
    if (live && isSameRedFlush(live, input.reason)) return { receipt: receiptView(live), changed: false };
    const refusal = redFlushRefusal(original, live ?? undefined);
    if (refusal) throw refusal;
    const red = await this.createRed(tx, emit, actor, original, input);
    return { receipt: receiptView(red), changed: true };
  }

  private async createRed(
    tx: Tx,
    emit: Emit,
    actor: string,
    original: Receipt,
    input: { reason: string; handlingPerson: string },
  ): Promise<Receipt> {
    const request = original.request as unknown as IssueRequest;
    const lines = redLines(await this.linesOf(tx, original));
    const totalFen = -original.totalFen;
    const number = formatNumber(await this.issuance.allocateNumber(tx, original));
    const issuedAt = this.clock();
    // The red receipt's own serial: one per attempt, so a red receipt voided by signing or
    // finance can be followed by another without touching the (agency, serial) uniqueness.
    const attempts = await tx.receipt.count({ where: { originalReceiptId: original.id } });
    const bizSerialNo = `red:${original.billCode}${formatNumber(original.number)}${attempts ? `:${attempts + 1}` : ""}`;
    const { checkCode, checkCodeKeyId } = this.issuance.newCheckCode({
      billCode: original.billCode,
      number,
      issueDate: shanghaiDateTime(issuedAt).date,
      totalFen,
      agencyCode: original.agencyCode,
      payerCode: original.payerCode ?? "",
      bizSerialNo,
    });
    const billKind = await tx.billKind.findUnique({
      where: { agencyCode_billCode: { agencyCode: original.agencyCode, billCode: original.billCode } },
    });
    const document = buildReceiptDocument({
      billName: billNameOr(billKind?.name),
      billCode: original.billCode,
      number,
      checkCode,
      totalFen,
      issuedAt,
      agencyCode: original.agencyCode,
      payer: request.payer,
      payMode: request.payMode,
      bizSerialNo,
      remark: input.reason,
      handlingPerson: input.handlingPerson,
      items: lines.map(documentItem),
      related: { billCode: original.billCode, number: formatNumber(original.number) },
    });
    const documentSm3 = sm3(document).toString("hex");
    const redRequest = {
      ...request,
      bizSerialNo,
      items: request.items.map((i) => ({ ...i, amountFen: -i.amountFen })),
      totalFen: Number(totalFen),
      remark: input.reason,
      handlingPerson: input.handlingPerson,
    };
    const red = await tx.receipt.create({
      data: {
        id: randomUUID(),
        agencyCode: original.agencyCode,
        bizSerialNo,
        issuingPointCode: original.issuingPointCode,
        billCode: original.billCode,
        number: BigInt(number),
        checkCode,
        checkCodeKeyId,
        status: "REQUESTED",
        source: original.source,
        totalFen,
        payerType: original.payerType,
        payerCode: original.payerCode,
        payerName: original.payerName,
        issuedAt,
        requestSm3: sm3(JSON.stringify(["red", original.id, input.reason])).toString("hex"),
        request: redRequest as unknown as Prisma.InputJsonValue,
        document: new Uint8Array(document),
        documentSm3,
        createdBy: actor,
        kind: "RED",
        originalReceiptId: original.id,
        lines: lines as unknown as Prisma.InputJsonValue,
        reason: input.reason,
      },
    });
    await audit(tx, actor, "receipt.red-flush", `receipt:${original.id}`, {
      redReceiptId: red.id,
      number,
      reason: input.reason,
    });
    emit(ReceiptRequested, {
      receiptId: red.id,
      agencyCode: red.agencyCode,
      issuingPointCode: red.issuingPointCode,
      bizSerialNo,
      billCode: red.billCode,
      number,
      checkCode,
      totalFen: Number(totalFen),
      payerType: request.payer.type,
      issuedAt: issuedAt.toISOString(),
      documentSm3,
      document: document.toString("base64"),
      kind: "red",
      originalReceiptId: original.id,
    });
    return red;
  }

  /** 换开: the e-receipt is exchanged for a paper one (recorded by its code and number). */
  async exchangeForPaper(
    actor: string,
    id: string,
    paper: { paperBillCode: string; paperNumber: string },
  ): Promise<Outcome> {
    return this.issuance.inTransaction(async (tx, emit) => {
      const receipt = await lockReceipt(tx, id);
      if (
        receipt.status === "PAPER_EXCHANGED" &&
        receipt.paperBillCode === paper.paperBillCode &&
        receipt.paperNumber === paper.paperNumber
      ) {
        return { receipt: receiptView(receipt), changed: false };
      }
      await refuseWhileFlushing(tx, receipt, "exchanged for paper");
      const status = this.decideFor(receipt, { type: "exchangeForPaper" });
      const taken = await tx.receipt.findFirst({
        where: { paperBillCode: paper.paperBillCode, paperNumber: paper.paperNumber },
        select: { id: true },
      });
      if (taken) {
        throw new AppError(
          "conflict",
          `paper receipt ${paper.paperBillCode}/${paper.paperNumber} is already recorded for another receipt`,
          { code: "PAPER_NUMBER_TAKEN" },
        );
      }
      const at = this.clock();
      const updated = await tx.receipt.update({
        where: { id },
        data: { status, ...paper, paperExchangedAt: at },
      });
      await audit(tx, actor, "receipt.paper-exchange", `receipt:${id}`, paper);
      emit(ReceiptPaperExchanged, { ...ref(updated), ...paper, returned: false, at: at.toISOString() });
      return { receipt: receiptView(updated), changed: true };
    });
  }

  /** The paper receipt was taken back: the e-receipt is valid again. */
  async returnPaper(actor: string, id: string, input: { reason: string }): Promise<Outcome> {
    return this.issuance.inTransaction(async (tx, emit) => {
      const receipt = await lockReceipt(tx, id);
      const status = this.decideFor(receipt, { type: "returnPaper" });
      const paper = { paperBillCode: receipt.paperBillCode!, paperNumber: receipt.paperNumber! };
      const at = this.clock();
      const updated = await tx.receipt.update({
        where: { id },
        data: { status, paperBillCode: null, paperNumber: null, paperExchangedAt: null },
      });
      await audit(tx, actor, "receipt.paper-return", `receipt:${id}`, { ...paper, reason: input.reason });
      emit(ReceiptPaperExchanged, { ...ref(updated), ...paper, returned: true, at: at.toISOString() });
      return { receipt: receiptView(updated), changed: true };
    });
  }

  /** 入账/报销 by the payer's organisation: from now on red-flush is refused. */
  async book(actor: string, id: string, input: { bookedBy: string }): Promise<Outcome> {
    return this.issuance.inTransaction(async (tx, emit) => {
      const receipt = await lockReceipt(tx, id);
      if (receipt.status === "BOOKED") return { receipt: receiptView(receipt), changed: false };
      await refuseWhileFlushing(tx, receipt, "booked");
      const status = this.decideFor(receipt, { type: "book" });
      const bookedAt = this.clock();
      const updated = await tx.receipt.update({
        where: { id },
        data: { status, bookedAt, bookedBy: input.bookedBy },
      });
      await audit(tx, actor, "receipt.book", `receipt:${id}`, input);
      emit(ReceiptBooked, { ...ref(updated), bookedAt: bookedAt.toISOString() });
      return { receipt: receiptView(updated), changed: true };
    });
  }

  /** 作废 by a clerk, before the receipt is issued; its number stays used and counts as voided. */
  async void(actor: string, id: string, input: { reason: string }): Promise<Outcome> {
    return this.issuance.inTransaction(async (tx, emit) => {
      const receipt = await lockReceipt(tx, id);
      if (receipt.status === "VOIDED") return { receipt: receiptView(receipt), changed: false };
      decide(receipt.status, { type: "void", reason: input.reason });
      return {
        receipt: receiptView(await this.voidIn(tx, emit, receipt, actor, input.reason)),
        changed: true,
      };
    });
  }

  private async voidIn(
    tx: Tx,
    emit: Emit,
    receipt: Receipt,
    actor: string,
    reason: string,
  ): Promise<Receipt> {
    const at = this.clock();
    const voided = await tx.receipt.update({
      where: { id: receipt.id },
      data: { status: decide(receipt.status, { type: "void", reason }), reason, voidedAt: at },
    });
    await audit(tx, actor, "receipt.void", `receipt:${receipt.id}`, { reason, from: receipt.status });
    emit(ReceiptVoided, {
      ...ref(voided),
      issuingPointCode: voided.issuingPointCode,
      reason: reason.slice(0, 500),
      voidedAt: at.toISOString(),
    });
    return voided;
  }

  /** Red receipts accept only void; blue ones follow the lifecycle. */
  private decideFor(receipt: Receipt, command: ReceiptCommand) {
    if (receipt.kind === "RED" && command.type !== "void") {
      throw new AppError("conflict", `a red receipt cannot ${command.type}`, { code: "RED_RECEIPT" });
    }
    return decide(receipt.status, command);
  }
}

/** Locks a receipt's row for the rest of the transaction; 404 when unknown (or of another agency). */
async function lockReceipt(tx: Tx, id: string, agencyCode?: string): Promise<Receipt> {
  const rows = await tx.$queryRaw<
    Array<{ id: string }>
  >`SELECT id FROM receipt WHERE id = ${id}::uuid FOR UPDATE`;
  const receipt = rows.length ? await tx.receipt.findUnique({ where: { id } }) : null;
  if (!receipt || (agencyCode !== undefined && receipt.agencyCode !== agencyCode)) {
    throw new AppError("not_found", `receipt ${id} does not exist`, { code: "RECEIPT_UNKNOWN" });
  }
  return receipt;
}

/** The original's red receipt that is not voided (in progress or issued), if any. */
function liveRedOf(tx: Tx, originalId: string): Promise<Receipt | null> {
  return tx.receipt.findFirst({
    where: { originalReceiptId: originalId, kind: "RED", status: { not: "VOIDED" } },
    orderBy: { issuedAt: "desc" },
  });
}

async function refuseWhileFlushing(tx: Tx, receipt: Receipt, what: string): Promise<void> {
  const live = await liveRedOf(tx, receipt.id);
  if (live && live.status !== "ISSUED") {
    throw new AppError(
      "conflict",
      `the receipt is being red-flushed (red receipt ${live.id}) and cannot be ${what}`,
      { code: "RED_FLUSH_IN_PROGRESS" },
    );
  }
}

function ref(r: Receipt) {
  return { receiptId: r.id, agencyCode: r.agencyCode, billCode: r.billCode, number: formatNumber(r.number) };
}

function kindOf(r: Receipt): "blue" | "red" {
  return r.kind === "RED" ? "red" : "blue";
}
