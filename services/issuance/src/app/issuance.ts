import { randomUUID } from "node:crypto";
import { transactionsWithEvents } from "@piaoju/bus";
import { type Emit, IssuingPointRegistered, ReceiptRequested } from "@piaoju/contracts";
import { sm3 } from "@piaoju/gm-crypto";
import { prismaUnitOfWork, type UnitOfWork } from "@piaoju/persistence";
import { AppError, type FieldIssue } from "@piaoju/runtime";
import type { Keyring } from "@piaoju/sealing";
import { type CheckCodeFields, newCheckCode } from "../domain/check-code.ts";
import { buildReceiptDocument, shanghaiDateTime } from "../domain/document.ts";
import { allowedCommands, type ReceiptStatus } from "../domain/lifecycle.ts";
import type { ReceiptLine } from "../domain/red-flush.ts";
import { checkAgainstReference, type IncomeItem, type IssuingPoint } from "../domain/reference.ts";
import { canonicalRequest, type IssueRequest } from "../domain/request.ts";
import type { Prisma, PrismaClient, Receipt } from "../generated/prisma/client.ts";

export type Tx = Prisma.TransactionClient;

/** Issuers of one point queue on its run's row lock; Prisma's default 5 s wait is short under load. */
/** The billing name used when stock never told issuance the bill kind's name. */
export function billNameOr(name: string | undefined): string {
  return name ?? DEFAULT_BILL_NAME;
}

/** A printed line as the document builder takes it. */
export function documentItem(line: ReceiptLine) {
  return {
    code: line.itemCode,
    name: line.itemName,
    unit: line.unit,
    quantity: line.quantity,
    standardFen: line.standardFen === null ? null : BigInt(line.standardFen),
    amountFen: BigInt(line.amountFen),
  };
}

export function issuanceUnitOfWork(prisma: PrismaClient): UnitOfWork<Tx> {
  return prismaUnitOfWork<Tx>(prisma, { maxWait: 30_000, timeout: 60_000 });
}
export type ReceiptSource = "API" | "ONLINE" | "PAYMENT";

export interface IssuanceDeps {
  prisma: PrismaClient;
  /** Called after a commit that wrote events, so the relay publishes them at once. */
  published: () => void;
  clock: () => Date;
  /** PIAOJU_CHECK_CODE_KEY: the root keys of the agencies' check-code secrets, current first. */
  checkCodeKeys: Keyring;
}

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

export interface IssueOutcome {
  receipt: ReceiptView;
  /** False when the (agency, serial) already had this receipt: a retry. */
  created: boolean;
}

/** When stock never said the bill kind's name, the document still needs an EInvoiceName. */
const DEFAULT_BILL_NAME = "财政电子票据";

/** What a request names, as the database has it (undefined: not there). */
export interface Reference {
  point: IssuingPoint | undefined;
  items: Map<string, IncomeItem>;
  billKind: { name: string } | undefined;
}

/** The issuance use cases. Each runs in one transaction with its events (outbox) and audit entry. */
export class IssuanceApp {
  /** Runs work in one transaction; the events it emits go to the outbox in that transaction. */
  readonly inTransaction: <T>(work: (tx: Tx, emit: Emit) => Promise<T>) => Promise<T>;

  constructor(private readonly deps: IssuanceDeps) {
    this.inTransaction = transactionsWithEvents({
      unitOfWork: issuanceUnitOfWork(deps.prisma),
      producer: "issuance",
      clock: deps.clock,
      published: deps.published,
    });
  }

  // ------------------------------------------------------------------------------------------
  // Reference data: income items (收入项目) and issuing points (开票点)

  async registerItem(
    actor: string,
    input: {
      agencyCode: string;
      code: string;
      name: string;
      unit: string;
      standardFen: number | null;
      enabled: boolean;
    },
  ) {
    return this.inTransaction(async (tx) => {
      const key = { agencyCode_code: { agencyCode: input.agencyCode, code: input.code } };
      if (await tx.incomeItem.findUnique({ where: key })) {
        throw new AppError("conflict", `income item ${input.code} already exists for ${input.agencyCode}`, {
          code: "ITEM_EXISTS",
        });
      }
      const item = await tx.incomeItem.create({
        data: { ...input, standardFen: input.standardFen === null ? null : BigInt(input.standardFen) },
      });
      await audit(tx, actor, "income-item.register", `income-item:${input.agencyCode}:${input.code}`, input);
      return itemView(item);
    });
  }

  async listItems(agencyCode: string) {
    const rows = await this.deps.prisma.incomeItem.findMany({
      where: { agencyCode },
      orderBy: { code: "asc" },
    });
    return rows.map(itemView);
  }

  async registerIssuingPoint(
    actor: string,
    input: { agencyCode: string; code: string; name: string; enabled: boolean },
  ) {
    return this.inTransaction(async (tx, emit) => {
      const key = { agencyCode_code: { agencyCode: input.agencyCode, code: input.code } };
      if (await tx.issuingPoint.findUnique({ where: key })) {
        throw new AppError("conflict", `issuing point ${input.code} already exists for ${input.agencyCode}`, {
          code: "ISSUING_POINT_EXISTS",
        });
      }
      const point = await tx.issuingPoint.create({ data: input });
      await audit(
        tx,
        actor,
        "issuing-point.register",
        `issuing-point:${input.agencyCode}:${input.code}`,
        input,
      );
      emit(IssuingPointRegistered, {
        agencyCode: point.agencyCode,
        issuingPointCode: point.code,
        name: point.name,
        registeredAt: point.createdAt.toISOString(),
      });
      return pointView(point);
    });
  }

  async listIssuingPoints(agencyCode: string) {
    const rows = await this.deps.prisma.issuingPoint.findMany({
      where: { agencyCode },
      orderBy: { code: "asc" },
    });
    return rows.map(pointView);
  }

  // ------------------------------------------------------------------------------------------
  // Numbers: runs distributed by stock (分发)

  /** Takes in a run of numbers for an issuing point; one run per distribution (a redelivery changes nothing). */
  async receiveRun(
    tx: Tx,
    run: {
      distributionId: string;
      agencyCode: string;
      issuingPointCode: string;
      billCode: string;
      startNumber: string;
      endNumber: string;
    },
  ): Promise<void> {
    await tx.numberRun.createMany({
      data: [
        {
          id: run.distributionId,
          agencyCode: run.agencyCode,
          issuingPointCode: run.issuingPointCode,
          billCode: run.billCode,
          startNumber: BigInt(run.startNumber),
          endNumber: BigInt(run.endNumber),
          nextNumber: BigInt(run.startNumber),
          receivedAt: this.deps.clock(),
        },
      ],
      skipDuplicates: true,
    });
  }

  async recordBillKind(tx: Tx, kind: { agencyCode: string; billCode: string; name: string }): Promise<void> {
    await tx.billKind.upsert({
      where: { agencyCode_billCode: { agencyCode: kind.agencyCode, billCode: kind.billCode } },
      create: kind,
      update: { name: kind.name },
    });
  }

  async numberRuns(filter: { agencyCode: string; issuingPointCode?: string | undefined }) {
    const runs = await this.deps.prisma.numberRun.findMany({
      where: {
        agencyCode: filter.agencyCode,
        ...(filter.issuingPointCode ? { issuingPointCode: filter.issuingPointCode } : {}),
      },
      orderBy: [{ issuingPointCode: "asc" }, { billCode: "asc" }, { startNumber: "asc" }],
      take: 1000,
    });
    return runs.map((r) => ({
      id: r.id,
      agencyCode: r.agencyCode,
      issuingPointCode: r.issuingPointCode,
      billCode: r.billCode,
      startNumber: formatNumber(r.startNumber),
      endNumber: formatNumber(r.endNumber),
      nextNumber: formatNumber(r.nextNumber),
      remaining: Number(r.endNumber - r.nextNumber + 1n),
      exhausted: r.exhausted,
    }));
  }

  /**
   * Takes the issuing point's next number, inside the caller's (the receipt's) transaction.
   *
   * The oldest run that still has numbers is locked (FOR UPDATE), its next_number taken and
   * advanced. The advance commits or rolls back with the receipt that uses the number: a crash
   * or an error before COMMIT undoes both, so a number is never lost (no gap) and the row lock
   * serialises the point's issuers (no duplicate). No number is reserved outside a receipt,
   * so there is nothing to void after a crash.
   */
  async allocateNumber(
    tx: Tx,
    at: { agencyCode: string; issuingPointCode: string; billCode: string },
  ): Promise<bigint> {
    // A run exhausted by the transaction we waited for fails PostgreSQL's re-check once the lock is
    // granted, and the scan moves on to the next run (the row lock sits under the LIMIT). Should a
    // re-check ever leave the answer empty while runs with numbers remain, a new statement (fresh
    // snapshot) asks again: the loop is a guard, not the usual path (the concurrency test crosses
    // runs of 30 under 40 clients without needing it).
    //
    // One statement, one round trip: the sub-select locks the run (FOR UPDATE, re-checked against
    // the latest version once granted), and the UPDATE advances the row it locked, so the point's
    // lock is held from this statement to COMMIT and no longer (the receipt's other statements
    // around it do not wait on each other's numbers).
    for (let attempt = 0; attempt < 5; attempt++) {
      const [run] = await tx.$queryRaw<Array<{ number: bigint }>>`
        UPDATE number_run SET next_number = next_number + 1, exhausted = (next_number + 1 > end_number)
         WHERE NOT exhausted AND id = (
           SELECT id FROM number_run
            WHERE agency_code = ${at.agencyCode} AND issuing_point_code = ${at.issuingPointCode}
              AND bill_code = ${at.billCode} AND NOT exhausted
            ORDER BY start_number LIMIT 1 FOR UPDATE)
        RETURNING next_number - 1 AS number`;
      if (run) return BigInt(run.number);
      const [left] = await tx.$queryRaw<Array<{ n: bigint }>>`
        SELECT count(*) AS n FROM number_run
         WHERE agency_code = ${at.agencyCode} AND issuing_point_code = ${at.issuingPointCode}
           AND bill_code = ${at.billCode} AND NOT exhausted`;
      if (!left || BigInt(left.n) === 0n) break;
    }
    throw new AppError(
      "conflict",
      `issuing point ${at.issuingPointCode} has no numbers left for bill code ${at.billCode} (agency ${at.agencyCode})`,
      { code: "NO_STOCK" },
    );
  }

  // ------------------------------------------------------------------------------------------
  // Issuing (开具)

  /**
   * Issues a receipt for a request, once per (agency, business serial number). A retry of the
   * same request returns the receipt already issued; a different request under the same serial
   * is refused. Concurrent duplicates: the serial's advisory lock makes the second wait and then
   * find the first; the unique index stays the last word if anything slips past.
   */
  async issue(actor: string, source: ReceiptSource, request: IssueRequest): Promise<IssueOutcome> {
    try {
      return await this.inTransaction((tx, emit) => this.issueIn(tx, emit, actor, source, request));
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      const existing = await this.deps.prisma.receipt.findUnique({
        where: {
          agencyCode_bizSerialNo: { agencyCode: request.agencyCode, bizSerialNo: request.bizSerialNo },
        },
      });
      if (!existing) throw error;
      return { receipt: sameOrRefuse(existing, fingerprint(request)), created: false };
    }
  }

  async issueIn(
    tx: Tx,
    emit: Emit,
    actor: string,
    source: ReceiptSource,
    request: IssueRequest,
  ): Promise<IssueOutcome> {
    const requestSm3 = fingerprint(request);
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`receipt:${request.agencyCode}:${request.bizSerialNo}`}, 0))`;
    const existing = await tx.receipt.findUnique({
      where: { agencyCode_bizSerialNo: { agencyCode: request.agencyCode, bizSerialNo: request.bizSerialNo } },
    });
    if (existing) return { receipt: sameOrRefuse(existing, requestSm3), created: false };

    const { point, items, billKind } = await this.reference(tx, request);
    refuse(checkAgainstReference(request, point, items));

    const number = formatNumber(await this.allocateNumber(tx, request));
    const issuedAt = this.deps.clock();
    const totalFen = BigInt(request.totalFen);
    const { checkCode, checkCodeKeyId } = this.newCheckCode({
      billCode: request.billCode,
      number,
      issueDate: shanghaiDateTime(issuedAt).date,
      totalFen,
      agencyCode: request.agencyCode,
      payerCode: request.payer.code,
      bizSerialNo: request.bizSerialNo,
    });
    const lines: ReceiptLine[] = request.items.map((line) => {
      const item = items.get(line.itemCode)!;
      return {
        itemCode: item.code,
        itemName: item.name,
        unit: item.unit,
        quantity: line.quantity,
        standardFen: item.standardFen === null ? null : Number(item.standardFen),
        amountFen: line.amountFen,
      };
    });
    const document = buildReceiptDocument({
      billName: billKind?.name ?? DEFAULT_BILL_NAME,
      billCode: request.billCode,
      number,
      checkCode,
      totalFen,
      issuedAt,
      agencyCode: request.agencyCode,
      payer: request.payer,
      payMode: request.payMode,
      bizSerialNo: request.bizSerialNo,
      remark: request.remark,
      handlingPerson: request.handlingPerson,
      checker: request.checker,
      items: lines.map(documentItem),
    });
    const documentSm3 = sm3(document).toString("hex");
    const receipt = await tx.receipt.create({
      data: {
        id: randomUUID(),
        agencyCode: request.agencyCode,
        bizSerialNo: request.bizSerialNo,
        issuingPointCode: request.issuingPointCode,
        billCode: request.billCode,
        number: BigInt(number),
        checkCode,
        checkCodeKeyId,
        status: "REQUESTED",
        source,
        totalFen,
        payerType: request.payer.type,
        payerCode: request.payer.code,
        payerName: request.payer.name,
        issuedAt,
        requestSm3,
        request: JSON.parse(JSON.stringify(request)) as Prisma.InputJsonValue,
        document: new Uint8Array(document),
        documentSm3,
        createdBy: actor,
        kind: "BLUE",
        lines: lines as unknown as Prisma.InputJsonValue,
      },
    });
    await audit(tx, actor, "receipt.request", `receipt:${receipt.id}`, {
      bizSerialNo: request.bizSerialNo,
      billCode: request.billCode,
      number,
      source,
    });
    emit(ReceiptRequested, {
      receiptId: receipt.id,
      agencyCode: request.agencyCode,
      issuingPointCode: request.issuingPointCode,
      bizSerialNo: request.bizSerialNo,
      billCode: request.billCode,
      number,
      checkCode,
      totalFen: request.totalFen,
      payerType: request.payer.type,
      issuedAt: issuedAt.toISOString(),
      documentSm3,
      document: document.toString("base64"),
      kind: "blue",
    });
    return { receipt: receiptView(receipt), created: true };
  }

  /** What a request names, read in the receipt's transaction: its point, items and bill kind. */
  async reference(tx: Tx, request: IssueRequest): Promise<Reference> {
    const point = await tx.issuingPoint.findUnique({
      where: { agencyCode_code: { agencyCode: request.agencyCode, code: request.issuingPointCode } },
    });
    const itemRows = await tx.incomeItem.findMany({
      where: { agencyCode: request.agencyCode, code: { in: request.items.map((i) => i.itemCode) } },
    });
    const billKind = await tx.billKind.findUnique({
      where: { agencyCode_billCode: { agencyCode: request.agencyCode, billCode: request.billCode } },
    });
    return {
      point: point ?? undefined,
      items: new Map<string, IncomeItem>(itemRows.map((i) => [i.code, i])),
      billKind: billKind ?? undefined,
    };
  }

  /** A new receipt's check code (keyed per agency) and the id of the key that made it. */
  newCheckCode(fields: CheckCodeFields): { checkCode: string; checkCodeKeyId: string } {
    return newCheckCode(this.deps.checkCodeKeys, fields);
  }

  async findReceipt(id: string): Promise<ReceiptView | undefined> {
    const receipt = await this.deps.prisma.receipt.findUnique({ where: { id } });
    return receipt ? receiptView(receipt) : undefined;
  }

  async findBySerial(agencyCode: string, bizSerialNo: string): Promise<ReceiptView | undefined> {
    const receipt = await this.deps.prisma.receipt.findUnique({
      where: { agencyCode_bizSerialNo: { agencyCode, bizSerialNo } },
    });
    return receipt ? receiptView(receipt) : undefined;
  }

  async document(id: string): Promise<{ agencyCode: string; document: Buffer } | undefined> {
    const receipt = await this.deps.prisma.receipt.findUnique({
      where: { id },
      select: { agencyCode: true, document: true },
    });
    return receipt ? { agencyCode: receipt.agencyCode, document: Buffer.from(receipt.document) } : undefined;
  }

  /** 查验: a payer checks code + number + check code; the answer is the status, nothing about the payer. */
  async verify(q: { billCode: string; number: string; checkCode: string }) {
    const receipt = await this.deps.prisma.receipt.findUnique({
      where: { billCode_number: { billCode: q.billCode, number: BigInt(q.number) } },
      select: { status: true, checkCode: true },
    });
    // Unknown number and wrong check code answer alike, so numbers cannot be probed.
    if (!receipt || receipt.checkCode !== q.checkCode) {
      throw new AppError("not_found", `no receipt ${q.billCode}/${q.number} with that check code`, {
        code: "RECEIPT_UNKNOWN",
      });
    }
    return { billCode: q.billCode, number: q.number, status: receipt.status };
  }
}

function refuse(issues: FieldIssue[]): void {
  if (issues.length > 0) throw AppError.validation(issues.map((i) => ({ ...i, field: `body.${i.field}` })));
}

function fingerprint(request: IssueRequest): string {
  return sm3(canonicalRequest(request)).toString("hex");
}

function sameOrRefuse(existing: Receipt, requestSm3: string): ReceiptView {
  if (existing.requestSm3 === requestSm3) return receiptView(existing);
  throw new AppError(
    "conflict",
    // Which receipt holds the serial is not said: it may be another issuing point's, outside the caller's.
    `business serial number ${existing.bizSerialNo} was used for a different request`,
    { code: "BIZ_SERIAL_REUSED" },
  );
}

function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: unknown; cause?: unknown } | null;
  if (!e || typeof e !== "object") return false;
  return e.code === "P2002" || e.code === "23505" || (e.cause !== undefined && isUniqueViolation(e.cause));
}

export function formatNumber(n: bigint): string {
  return n.toString().padStart(10, "0");
}

export function audit(tx: Tx, actor: string, action: string, subject: string, detail: unknown) {
  return tx.auditLog.create({
    data: { actor, action, subject, detail: JSON.parse(JSON.stringify(detail)) as Prisma.InputJsonValue },
  });
}

function itemView(i: {
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

function pointView(p: { agencyCode: string; code: string; name: string; enabled: boolean }) {
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
    kind: r.kind === "RED" ? "red" : "blue",
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
