import { randomUUID } from "node:crypto";
import { transactionsWithEvents } from "@piaoju/bus";
import {
  BillKindRegistered,
  type Emit,
  NumbersReturned,
  NumbersVoided,
  SegmentDistributed,
  SegmentReceived,
  SegmentStocked,
  WriteOffRequested,
} from "@piaoju/contracts";
import { prismaUnitOfWork } from "@piaoju/persistence";
import { AppError } from "@piaoju/runtime";
import { carve, type Run, topUpSize, type Undistributed } from "../domain/distribution.ts";
import { type LedgerSummary, type Movement, summarize } from "../domain/ledger.ts";
import { checkPeriod, decideRemoval, periodDays, type RemovalKind, remaining } from "../domain/removals.ts";
import {
  businessDate,
  checkRange,
  decideConfirm,
  formatNumber,
  type NumberRange,
  rangeSize,
  refuseOverlap,
} from "../domain/segments.ts";
import type { Prisma, PrismaClient } from "../generated/prisma/client.ts";

export type Tx = Prisma.TransactionClient;

export interface StockDeps {
  prisma: PrismaClient;
  /** Called after a commit that wrote events, so the relay publishes them at once. */
  published: () => void;
  clock: () => Date;
}

export interface ReceiveSegment extends NumberRange {
  agencyCode: string;
  billCode: string;
  source: "FINANCE" | "MANUAL";
  financeRef?: string;
}

export interface SegmentView {
  id: string;
  agencyCode: string;
  billCode: string;
  startNumber: string;
  endNumber: string;
  count: number;
  status: "RECEIVED" | "STOCKED";
  source: "FINANCE" | "MANUAL";
  financeRef: string | null;
  receivedAt: string;
  stockedAt: string | null;
  stockedBy: string | null;
}

/** The stock use cases. Each runs in one transaction with its events (outbox) and audit entry. */
export class StockApp {
  /** Runs work in one transaction; the events it emits go to the outbox in that transaction. */
  readonly inTransaction: <T>(work: (tx: Tx, emit: Emit) => Promise<T>) => Promise<T>;

  constructor(private readonly deps: StockDeps) {
    this.inTransaction = transactionsWithEvents({
      unitOfWork: prismaUnitOfWork<Tx>(deps.prisma),
      producer: "stock",
      clock: deps.clock,
      published: deps.published,
    });
  }

  async registerBillKind(actor: string, input: { agencyCode: string; billCode: string; name: string }) {
    return this.inTransaction(async (tx, emit) => {
      const existing = await tx.billKind.findUnique({
        where: { agencyCode_billCode: { agencyCode: input.agencyCode, billCode: input.billCode } },
      });
      if (existing) {
        throw new AppError(
          "conflict",
          `bill kind ${input.billCode} is already registered for ${input.agencyCode}`,
          {
            code: "BILL_KIND_EXISTS",
          },
        );
      }
      const kind = await tx.billKind.create({ data: input });
      await audit(tx, actor, "bill-kind.register", `bill-kind:${input.agencyCode}:${input.billCode}`, input);
      emit(BillKindRegistered, input);
      return kind;
    });
  }

  listBillKinds(agencyCode: string) {
    return this.deps.prisma.billKind.findMany({ where: { agencyCode }, orderBy: { billCode: "asc" } });
  }

  /** A manual receipt of a segment by a ticket manager. */
  async receiveManually(
    actor: string,
    input: Omit<ReceiveSegment, "source" | "financeRef">,
  ): Promise<SegmentView> {
    return this.inTransaction(async (tx, emit) => {
      const segment = await this.receiveIn(tx, emit, { ...input, source: "MANUAL" });
      await audit(tx, actor, "segment.receive", `segment:${segment.id}`, segment);
      return segment;
    });
  }

  /**
   * Takes in a segment finance issued. Idempotent by finance reference: the same
   * reference with the same numbers returns the segment already held.
   */
  async receiveIn(tx: Tx, emit: Emit, input: ReceiveSegment): Promise<SegmentView> {
    checkRange(input);
    // Serialises intake per bill kind, so two overlapping segments cannot both pass the check.
    const kinds = await tx.$queryRaw<unknown[]>`
      SELECT 1 FROM bill_kind WHERE agency_code = ${input.agencyCode} AND bill_code = ${input.billCode} AND enabled FOR UPDATE`;
    if (kinds.length === 0) {
      throw new AppError(
        "not_found",
        `bill kind ${input.billCode} is not registered (or disabled) for ${input.agencyCode}`,
        {
          code: "BILL_KIND_UNKNOWN",
        },
      );
    }
    if (input.financeRef) {
      const same = await tx.segment.findUnique({
        where: { agencyCode_financeRef: { agencyCode: input.agencyCode, financeRef: input.financeRef } },
      });
      if (same && same.startNumber === input.startNumber && same.endNumber === input.endNumber)
        return view(same);
      if (same) {
        throw new AppError(
          "conflict",
          `finance reference ${input.financeRef} was already received with other numbers`,
          {
            code: "FINANCE_REF_REUSED",
          },
        );
      }
    }
    const held = await tx.segment.findFirst({
      where: {
        agencyCode: input.agencyCode,
        billCode: input.billCode,
        startNumber: { lte: input.endNumber },
        endNumber: { gte: input.startNumber },
      },
    });
    refuseOverlap(input, held);
    const segment = await tx.segment.create({
      data: {
        id: randomUUID(),
        agencyCode: input.agencyCode,
        billCode: input.billCode,
        startNumber: input.startNumber,
        endNumber: input.endNumber,
        status: "RECEIVED",
        source: input.source,
        financeRef: input.financeRef ?? null,
        receivedAt: this.deps.clock(),
        nextUndistributed: input.startNumber,
      },
    });
    const result = view(segment);
    emit(SegmentReceived, {
      segmentId: result.id,
      agencyCode: result.agencyCode,
      billCode: result.billCode,
      startNumber: result.startNumber,
      endNumber: result.endNumber,
      count: result.count,
      source: input.source === "FINANCE" ? "finance" : "manual",
      ...(input.financeRef ? { financeRef: input.financeRef } : {}),
    });
    return result;
  }

  /** 入库: a ticket manager confirms a received segment into stock. */
  async confirm(
    actor: string,
    segmentId: string,
    inScope: (agencyCode: string) => void,
  ): Promise<SegmentView> {
    return this.inTransaction(async (tx, emit) => {
      const [locked] = await tx.$queryRaw<
        Array<{ id: string }>
      >`SELECT id FROM segment WHERE id = ${segmentId}::uuid FOR UPDATE`;
      if (!locked)
        throw new AppError("not_found", `segment ${segmentId} does not exist`, { code: "SEGMENT_UNKNOWN" });
      const segment = await tx.segment.findUniqueOrThrow({ where: { id: segmentId } });
      inScope(segment.agencyCode);
      decideConfirm(segment);
      await lockBillKind(tx, segment.agencyCode, segment.billCode);
      const now = this.deps.clock();
      const stocked = await tx.segment.update({
        where: { id: segmentId },
        data: { status: "STOCKED", stockedAt: now, stockedBy: actor },
      });
      const result = view(stocked);
      await tx.ledgerEntry.create({
        data: {
          agencyCode: result.agencyCode,
          billCode: result.billCode,
          movement: "STOCKED",
          quantity: result.count,
          segmentId,
          businessDate: new Date(`${businessDate(now)}T00:00:00Z`),
        },
      });
      await audit(tx, actor, "segment.confirm", `segment:${segmentId}`, { count: result.count });
      emit(SegmentStocked, {
        segmentId,
        agencyCode: result.agencyCode,
        billCode: result.billCode,
        startNumber: result.startNumber,
        endNumber: result.endNumber,
        count: result.count,
        confirmedBy: actor,
        confirmedAt: now.toISOString(),
      });
      // New stock may be what a point was waiting for.
      await this.applyRules(tx, emit, result.agencyCode, result.billCode);
      return result;
    });
  }

  /** Sets the 分发 rule of an issuing point for a bill kind, and applies it at once. */
  async setRule(actor: string, rule: RuleInput): Promise<RuleInput> {
    return this.inTransaction(async (tx, emit) => {
      await lockBillKind(tx, rule.agencyCode, rule.billCode);
      const key = {
        agencyCode: rule.agencyCode,
        billCode: rule.billCode,
        issuingPointCode: rule.issuingPointCode,
      };
      const values = {
        threshold: rule.threshold,
        batchSize: rule.batchSize,
        enabled: rule.enabled,
        updatedBy: actor,
      };
      await tx.distributionRule.upsert({
        where: { agencyCode_billCode_issuingPointCode: key },
        create: { ...key, ...values },
        update: values,
      });
      await audit(
        tx,
        actor,
        "distribution-rule.set",
        `rule:${rule.agencyCode}:${rule.billCode}:${rule.issuingPointCode}`,
        rule,
      );
      await this.applyRules(tx, emit, rule.agencyCode, rule.billCode);
      return rule;
    });
  }

  listRules(agencyCode: string) {
    return this.deps.prisma.distributionRule.findMany({
      where: { agencyCode },
      orderBy: [{ billCode: "asc" }, { issuingPointCode: "asc" }],
    });
  }

  /** A ticket manager hands `count` numbers to an issuing point by hand. */
  async distribute(
    actor: string,
    input: { agencyCode: string; billCode: string; issuingPointCode: string; count: number },
  ): Promise<DistributionView[]> {
    return this.inTransaction(async (tx, emit) => {
      await lockBillKind(tx, input.agencyCode, input.billCode);
      const runs = carve(await undistributed(tx, input.agencyCode, input.billCode), input.count);
      const handed = await this.handOut(
        tx,
        emit,
        input.agencyCode,
        input.billCode,
        input.issuingPointCode,
        runs,
        actor,
      );
      await audit(
        tx,
        actor,
        "distribution.manual",
        `point:${input.agencyCode}:${input.issuingPointCode}`,
        input,
      );
      return handed;
    });
  }

  async listDistributions(q: {
    agencyCode: string;
    billCode?: string | undefined;
    issuingPointCode?: string | undefined;
  }) {
    const rows = await this.deps.prisma.distribution.findMany({
      where: {
        agencyCode: q.agencyCode,
        ...(q.billCode ? { billCode: q.billCode } : {}),
        ...(q.issuingPointCode ? { issuingPointCode: q.issuingPointCode } : {}),
      },
      orderBy: [{ distributedAt: "asc" }, { startNumber: "asc" }],
      take: 1000,
    });
    return rows.map(distributionView);
  }

  /**
   * A number was used on a receipt at an issuing point (reported by issuance): the ledger
   * counts it, and the point is topped up if that took it below its rule's threshold.
   */
  async recordUse(
    tx: Tx,
    emit: Emit,
    use: { agencyCode: string; billCode: string; issuingPointCode: string; usedAt: Date },
  ): Promise<void> {
    await lockBillKind(tx, use.agencyCode, use.billCode);
    await tx.ledgerEntry.create({
      data: {
        agencyCode: use.agencyCode,
        billCode: use.billCode,
        issuingPointCode: use.issuingPointCode,
        movement: "USED",
        quantity: 1,
        businessDate: new Date(`${businessDate(use.usedAt)}T00:00:00Z`),
      },
    });
    await this.applyRules(tx, emit, use.agencyCode, use.billCode);
  }

  /**
   * A receipt whose number was counted USED never became formal (issuance.ReceiptVoided): the
   * number stays consumed, but as voided (作废) rather than used. The correction is dated on the
   * day of the void: USED -1 and VOIDED +1, so the point's unused count does not move.
   */
  async recordVoid(
    tx: Tx,
    voided: { agencyCode: string; billCode: string; issuingPointCode: string; voidedAt: Date },
  ): Promise<void> {
    await lockBillKind(tx, voided.agencyCode, voided.billCode);
    const entry = {
      agencyCode: voided.agencyCode,
      billCode: voided.billCode,
      issuingPointCode: voided.issuingPointCode,
      businessDate: new Date(`${businessDate(voided.voidedAt)}T00:00:00Z`),
    };
    await tx.ledgerEntry.createMany({
      data: [
        { ...entry, movement: "USED", quantity: -1 },
        { ...entry, movement: "VOIDED", quantity: 1 },
      ],
    });
  }

  /** Tops up every issuing point of the bill kind whose rule says it runs low. Caller holds the bill kind lock. */
  private async applyRules(tx: Tx, emit: Emit, agencyCode: string, billCode: string): Promise<void> {
    const rules = await tx.distributionRule.findMany({
      where: { agencyCode, billCode, enabled: true },
      orderBy: { issuingPointCode: "asc" },
    });
    for (const rule of rules) {
      const stock = await undistributed(tx, agencyCode, billCode);
      const inStock = stock.reduce((n, s) => n + (s.end - s.next + 1n), 0n);
      const size = topUpSize(rule, await unusedAt(tx, agencyCode, billCode, rule.issuingPointCode), inStock);
      if (size > 0) {
        await this.handOut(tx, emit, agencyCode, billCode, rule.issuingPointCode, carve(stock, size), "rule");
      }
    }
  }

  private async handOut(
    tx: Tx,
    emit: Emit,
    agencyCode: string,
    billCode: string,
    issuingPointCode: string,
    runs: readonly Run[],
    by: string,
  ): Promise<DistributionView[]> {
    const now = this.deps.clock();
    const handed: DistributionView[] = [];
    for (const run of runs) {
      const row = await tx.distribution.create({
        data: {
          id: randomUUID(),
          segmentId: run.segmentId,
          agencyCode,
          billCode,
          issuingPointCode,
          startNumber: run.startNumber,
          endNumber: run.endNumber,
          distributedAt: now,
          distributedBy: by,
        },
      });
      await tx.segment.update({
        where: { id: run.segmentId },
        data: { nextUndistributed: run.endNumber + 1n },
      });
      const view = distributionView(row);
      await tx.ledgerEntry.create({
        data: {
          agencyCode,
          billCode,
          issuingPointCode,
          movement: "DISTRIBUTED",
          quantity: view.count,
          segmentId: run.segmentId,
          businessDate: new Date(`${businessDate(now)}T00:00:00Z`),
        },
      });
      emit(SegmentDistributed, {
        distributionId: view.id,
        segmentId: view.segmentId,
        agencyCode,
        billCode,
        issuingPointCode,
        startNumber: view.startNumber,
        endNumber: view.endNumber,
        count: view.count,
        distributedAt: now.toISOString(),
        distributedBy: by,
      });
      handed.push(view);
    }
    return handed;
  }

  /** 申退: undistributed numbers of a stocked segment go back to finance. */
  returnNumbers(actor: string, range: RemovalInput): Promise<RemovalView> {
    return this.removeFromStock(actor, "RETURNED", range);
  }

  /** 库存作废: undistributed numbers of a stocked segment are voided unused, for a reason. */
  voidNumbers(actor: string, range: RemovalInput & { reason: string }): Promise<RemovalView> {
    return this.removeFromStock(actor, "VOIDED", range);
  }

  /**
   * Takes a range out of stock. The bill kind lock serialises it with distribution and other
   * removals, so of two requests for the same numbers exactly one finds them still there.
   */
  private async removeFromStock(
    actor: string,
    kind: RemovalKind,
    input: RemovalInput & { reason?: string },
  ): Promise<RemovalView> {
    checkRange(input);
    return this.inTransaction(async (tx, emit) => {
      await lockBillKind(tx, input.agencyCode, input.billCode);
      const segment = await tx.segment.findFirst({
        where: {
          agencyCode: input.agencyCode,
          billCode: input.billCode,
          startNumber: { lte: input.startNumber },
          endNumber: { gte: input.endNumber },
        },
      });
      const removed = segment ? await tx.stockRemoval.findMany({ where: { segmentId: segment.id } }) : [];
      decideRemoval(input, segment ?? undefined, removed);
      const now = this.deps.clock();
      const row = await tx.stockRemoval.create({
        data: {
          id: randomUUID(),
          segmentId: segment!.id,
          agencyCode: input.agencyCode,
          billCode: input.billCode,
          kind,
          startNumber: input.startNumber,
          endNumber: input.endNumber,
          reason: input.reason ?? null,
          removedBy: actor,
          removedAt: now,
        },
      });
      const result = removalView(row);
      // No issuing point: the numbers leave the agency's own stock, not a point's.
      await tx.ledgerEntry.create({
        data: {
          agencyCode: input.agencyCode,
          billCode: input.billCode,
          movement: kind,
          quantity: result.count,
          segmentId: row.segmentId,
          removalId: row.id,
          businessDate: new Date(`${businessDate(now)}T00:00:00Z`),
        },
      });
      const action = kind === "RETURNED" ? "stock.return" : "stock.void";
      await audit(tx, actor, action, `segment:${row.segmentId}`, result);
      const moved = {
        removalId: result.id,
        segmentId: result.segmentId,
        agencyCode: result.agencyCode,
        billCode: result.billCode,
        startNumber: result.startNumber,
        endNumber: result.endNumber,
        count: result.count,
      };
      if (kind === "RETURNED") {
        emit(NumbersReturned, { ...moved, returnedBy: actor, returnedAt: result.removedAt });
      } else {
        emit(NumbersVoided, {
          ...moved,
          reason: result.reason ?? "",
          voidedBy: actor,
          voidedAt: result.removedAt,
        });
      }
      return result;
    });
  }

  /**
   * 核销申请 for a bill kind's month, built from the ledger. Idempotent per (agency, bill
   * kind, period): asking again returns the record already submitted, unchanged.
   */
  async requestWriteOff(
    actor: string,
    input: { agencyCode: string; billCode: string; period: string },
  ): Promise<{ created: boolean; writeOff: WriteOffView }> {
    checkPeriod(input.period, businessDate(this.deps.clock()));
    return this.inTransaction(async (tx, emit) => {
      await lockBillKind(tx, input.agencyCode, input.billCode);
      const key = { agencyCode: input.agencyCode, billCode: input.billCode, period: input.period };
      const existing = await tx.writeOff.findUnique({ where: { agencyCode_billCode_period: key } });
      if (existing) return { created: false, writeOff: writeOffView(existing) };
      const record = await this.writeOffRecord(tx, input);
      const now = this.deps.clock();
      const row = await tx.writeOff.create({
        data: {
          id: randomUUID(),
          ...key,
          status: "SUBMITTED",
          record: JSON.parse(JSON.stringify(record)) as Prisma.InputJsonValue,
          submittedBy: actor,
          submittedAt: now,
        },
      });
      await audit(tx, actor, "write-off.request", `write-off:${row.id}`, key);
      emit(WriteOffRequested, {
        writeOffId: row.id,
        ...key,
        ...record,
        submittedBy: actor,
        submittedAt: now.toISOString(),
      });
      return { created: true, writeOff: writeOffView(row) };
    });
  }

  async listRemovals(q: {
    agencyCode: string;
    billCode?: string | undefined;
    kind?: RemovalKind | undefined;
  }) {
    const rows = await this.deps.prisma.stockRemoval.findMany({
      where: {
        agencyCode: q.agencyCode,
        ...(q.billCode ? { billCode: q.billCode } : {}),
        ...(q.kind ? { kind: q.kind } : {}),
      },
      orderBy: [{ billCode: "asc" }, { startNumber: "asc" }],
      take: 1000,
    });
    return rows.map(removalView);
  }

  async listWriteOffs(q: { agencyCode: string; billCode?: string | undefined }) {
    const rows = await this.deps.prisma.writeOff.findMany({
      where: { agencyCode: q.agencyCode, ...(q.billCode ? { billCode: q.billCode } : {}) },
      orderBy: [{ period: "desc" }, { billCode: "asc" }],
      take: 1000,
    });
    return rows.map(writeOffView);
  }

  private async writeOffRecord(tx: Tx, q: { agencyCode: string; billCode: string; period: string }) {
    const days = periodDays(q.period);
    const base = { agencyCode: q.agencyCode, billCode: q.billCode, ...days };
    const points = await tx.ledgerEntry.findMany({
      where: { agencyCode: q.agencyCode, billCode: q.billCode, issuingPointCode: { not: null } },
      distinct: ["issuingPointCode"],
      select: { issuingPointCode: true },
      orderBy: { issuingPointCode: "asc" },
    });
    const agency = await this.ledger(base, tx);
    const perPoint: Array<LedgerSummary & { issuingPointCode: string }> = [];
    for (const p of points) {
      const code = p.issuingPointCode!;
      perPoint.push({
        issuingPointCode: code,
        ...(await this.ledger({ ...base, issuingPointCode: code }, tx)),
      });
    }
    // What the agency holds undistributed at the period's end: all it holds, less what its points hold.
    const inStock = agency.closing - perPoint.reduce((n, p) => n + p.closing, 0);
    return { agency, points: perPoint, inStock };
  }

  async findSegment(id: string): Promise<SegmentView | undefined> {
    const segment = await this.deps.prisma.segment.findUnique({ where: { id } });
    return segment ? view(segment) : undefined;
  }

  async listSegments(filter: {
    agencyCode: string;
    billCode?: string | undefined;
    status?: "RECEIVED" | "STOCKED" | undefined;
  }) {
    const rows = await this.deps.prisma.segment.findMany({
      where: {
        agencyCode: filter.agencyCode,
        ...(filter.billCode ? { billCode: filter.billCode } : {}),
        ...(filter.status ? { status: filter.status } : {}),
      },
      orderBy: [{ billCode: "asc" }, { startNumber: "asc" }],
      take: 1000,
    });
    return rows.map(view);
  }

  /**
   * 领用存 of one bill kind over business days [from, to]: of the agency (what came from
   * finance), or of one issuing point (what was distributed to it).
   */
  async ledger(
    q: {
      agencyCode: string;
      billCode: string;
      issuingPointCode?: string | undefined;
      from: string;
      to: string;
    },
    db: Pick<Tx, "ledgerEntry"> = this.deps.prisma,
  ): Promise<LedgerSummary> {
    const scope: Prisma.LedgerEntryWhereInput = q.issuingPointCode
      ? { issuingPointCode: q.issuingPointCode }
      : { movement: { not: "DISTRIBUTED" } }; // a move inside the agency, not a receipt from finance
    const totals = (where: Prisma.LedgerEntryWhereInput) =>
      db.ledgerEntry
        .groupBy({
          by: ["movement"],
          where: { agencyCode: q.agencyCode, billCode: q.billCode, ...scope, ...where },
          _sum: { quantity: true },
        })
        .then((rows) =>
          rows.map((r) => ({ movement: r.movement as Movement, quantity: r._sum.quantity ?? 0 })),
        );
    const from = new Date(`${q.from}T00:00:00Z`);
    const to = new Date(`${q.to}T00:00:00Z`);
    return summarize(
      await totals({ businessDate: { lt: from } }),
      await totals({ businessDate: { gte: from, lte: to } }),
    );
  }
}

export interface RemovalInput extends NumberRange {
  agencyCode: string;
  billCode: string;
}

export interface RemovalView {
  id: string;
  segmentId: string;
  agencyCode: string;
  billCode: string;
  kind: RemovalKind;
  startNumber: string;
  endNumber: string;
  count: number;
  reason: string | null;
  removedBy: string;
  removedAt: string;
}

export interface WriteOffView {
  id: string;
  agencyCode: string;
  billCode: string;
  period: string;
  status: string;
  record: unknown;
  submittedBy: string;
  submittedAt: string;
}

export interface RuleInput {
  agencyCode: string;
  billCode: string;
  issuingPointCode: string;
  threshold: number;
  batchSize: number;
  enabled: boolean;
}

export interface DistributionView {
  id: string;
  segmentId: string;
  agencyCode: string;
  billCode: string;
  issuingPointCode: string;
  startNumber: string;
  endNumber: string;
  count: number;
  distributedAt: string;
  distributedBy: string;
}

/** Serialises intake and distribution per bill kind, so no two can take the same numbers. */
async function lockBillKind(tx: Tx, agencyCode: string, billCode: string): Promise<void> {
  const kinds = await tx.$queryRaw<unknown[]>`
    SELECT 1 FROM bill_kind WHERE agency_code = ${agencyCode} AND bill_code = ${billCode} AND enabled FOR UPDATE`;
  if (kinds.length === 0) {
    throw new AppError(
      "not_found",
      `bill kind ${billCode} is not registered (or disabled) for ${agencyCode}`,
      {
        code: "BILL_KIND_UNKNOWN",
      },
    );
  }
}

/**
 * Stocked numbers not yet handed to any point, oldest segment first, without those returned
 * (申退) or voided (库存作废): a segment with removals yields one piece per gap between them.
 */
async function undistributed(tx: Tx, agencyCode: string, billCode: string): Promise<Undistributed[]> {
  const rows = await tx.segment.findMany({
    where: { agencyCode, billCode, status: "STOCKED" },
    orderBy: [{ stockedAt: "asc" }, { startNumber: "asc" }],
    include: { removals: { select: { startNumber: true, endNumber: true } } },
  });
  return rows.flatMap((r) =>
    remaining(r.nextUndistributed, r.endNumber, r.removals).map((piece) => ({
      segmentId: r.id,
      next: piece.startNumber,
      end: piece.endNumber,
    })),
  );
}

function removalView(r: {
  id: string;
  segmentId: string;
  agencyCode: string;
  billCode: string;
  kind: RemovalKind;
  startNumber: bigint;
  endNumber: bigint;
  reason: string | null;
  removedBy: string;
  removedAt: Date;
}): RemovalView {
  return {
    ...r,
    startNumber: formatNumber(r.startNumber),
    endNumber: formatNumber(r.endNumber),
    count: rangeSize(r),
    removedAt: r.removedAt.toISOString(),
  };
}

function writeOffView(w: {
  id: string;
  agencyCode: string;
  billCode: string;
  period: string;
  status: string;
  record: unknown;
  submittedBy: string;
  submittedAt: Date;
}): WriteOffView {
  return { ...w, submittedAt: w.submittedAt.toISOString() };
}

/** An issuing point's numbers handed over and not yet used or voided. */
async function unusedAt(
  tx: Tx,
  agencyCode: string,
  billCode: string,
  issuingPointCode: string,
): Promise<number> {
  const rows = await tx.ledgerEntry.groupBy({
    by: ["movement"],
    where: { agencyCode, billCode, issuingPointCode },
    _sum: { quantity: true },
  });
  return rows.reduce((n, r) => n + (r.movement === "DISTRIBUTED" ? 1 : -1) * (r._sum.quantity ?? 0), 0);
}

function distributionView(d: {
  id: string;
  segmentId: string;
  agencyCode: string;
  billCode: string;
  issuingPointCode: string;
  startNumber: bigint;
  endNumber: bigint;
  distributedAt: Date;
  distributedBy: string;
}): DistributionView {
  return {
    ...d,
    startNumber: formatNumber(d.startNumber),
    endNumber: formatNumber(d.endNumber),
    count: rangeSize(d),
    distributedAt: d.distributedAt.toISOString(),
  };
}

function audit(tx: Tx, actor: string, action: string, subject: string, detail: unknown) {
  return tx.auditLog.create({
    data: { actor, action, subject, detail: JSON.parse(JSON.stringify(detail)) as Prisma.InputJsonValue },
  });
}

function view(s: {
  id: string;
  agencyCode: string;
  billCode: string;
  startNumber: bigint;
  endNumber: bigint;
  status: "RECEIVED" | "STOCKED";
  source: "FINANCE" | "MANUAL";
  financeRef: string | null;
  receivedAt: Date;
  stockedAt: Date | null;
  stockedBy: string | null;
}): SegmentView {
  return {
    id: s.id,
    agencyCode: s.agencyCode,
    billCode: s.billCode,
    startNumber: formatNumber(s.startNumber),
    endNumber: formatNumber(s.endNumber),
    count: rangeSize(s),
    status: s.status,
    source: s.source,
    financeRef: s.financeRef,
    receivedAt: s.receivedAt.toISOString(),
    stockedAt: s.stockedAt?.toISOString() ?? null,
    stockedBy: s.stockedBy,
  };
}
