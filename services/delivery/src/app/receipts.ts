import { randomUUID } from "node:crypto";
import type { ReceiptIssued, ReceiptPaperExchanged, ReceiptRedFlushed } from "@piaoju/contracts";
import type { z } from "zod";
import { type Authorization, type Channel, NOTHING_AUTHORIZED, planChannels } from "../domain/channels.ts";
import type { Protector } from "../domain/protect.ts";
import {
  DEFAULT_BILL_NAME,
  type PayerDetails,
  type ReceiptLine,
  type ReceiptView,
} from "../domain/receipt.ts";
import { readDocumentFields } from "../domain/receipt-text.ts";
import type { Prisma, PrismaClient } from "../generated/prisma/client.ts";

export type Tx = Prisma.TransactionClient;
type Issued = z.infer<typeof ReceiptIssued.schema>;
type RedFlushed = z.infer<typeof ReceiptRedFlushed.schema>;
type PaperExchanged = z.infer<typeof ReceiptPaperExchanged.schema>;
type ReceiptRow = Prisma.ReceiptGetPayload<object>;

/**
 * Receipts as delivery keeps them: taken in from issuance's events (payer sealed, name and
 * phone as keyed digests), turned back into a view to render or show, and the deliveries
 * each one needs.
 */
export class Receipts {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly protector: Protector,
    private readonly providers: ReadonlySet<Channel>,
    private readonly clock: () => Date,
  ) {}

  /** An issued receipt (blue or red) comes in: keep it, and plan its deliveries. Idempotent. */
  async receiveIssued(tx: Tx, e: Issued): Promise<void> {
    const existing = await tx.receipt.findUnique({ where: { receiptId: e.receiptId } });
    if (existing) return;
    const payer: PayerDetails = e.payer;
    await tx.receipt.create({
      data: {
        receiptId: e.receiptId,
        agencyCode: e.agencyCode,
        billCode: e.billCode,
        number: e.number,
        kind: e.kind,
        originalReceiptId: e.originalReceiptId ?? null,
        bizSerialNo: e.bizSerialNo,
        issuingPointCode: e.issuingPointCode,
        checkCode: e.checkCode,
        issuedAt: new Date(e.issuedAt),
        supervisedAt: new Date(e.supervisedAt),
        totalFen: BigInt(e.totalFen),
        sealedPayer: new Uint8Array(this.protector.seal(payerContext(e.receiptId), JSON.stringify(payer))),
        payerNameDigest: this.protector.digest("name", payer.name),
        payerPhoneDigest: payer.phone ? this.protector.digest("phone", payer.phone) : null,
        items: e.items,
        remark: e.remark ?? null,
        handlingPerson: e.handlingPerson,
        checker: e.checker ?? null,
        document: this.protector.sealDocument(e.receiptId, e.document),
        documentSm3: e.documentSm3,
        agencySignature: e.agencySignature,
        financeSignature: e.financeSignature,
        status: "ISSUED",
      },
    });
    const authorized = await this.authorization(tx, e.agencyCode);
    const channels = planChannels(authorized, this.providers, { email: payer.email, phone: payer.phone });
    await this.addDeliveries(tx, e.receiptId, e.agencyCode, channels, "ISSUED");
  }

  /**
   * The original receipt was red-flushed: it is marked so (the pick-up page and a re-rendered
   * PDF say it), and the business system hears of it. The payer hears through the red
   * receipt's own ReceiptIssued.
   */
  async receiveRedFlushed(tx: Tx, e: RedFlushed): Promise<void> {
    const original = await tx.receipt.findUnique({ where: { receiptId: e.receiptId } });
    // A receipt issued before delivery existed is not ours to mark; the red receipt still arrives.
    if (!original || original.status === "RED_FLUSHED") return;
    await tx.receipt.update({
      where: { receiptId: e.receiptId },
      data: {
        status: "RED_FLUSHED",
        redReceiptId: e.redReceiptId,
        redBillCode: e.redBillCode,
        redNumber: e.redNumber,
        redReason: e.reason,
        redFlushedAt: new Date(e.redFlushedAt),
      },
    });
    const authorized = await this.authorization(tx, e.agencyCode);
    const channels = authorized.webhook && this.providers.has("WEBHOOK") ? (["WEBHOOK"] as const) : [];
    await this.addDeliveries(tx, e.receiptId, e.agencyCode, [...channels], "RED_FLUSHED");
  }

  /**
   * The receipt was exchanged for paper (换开): the e-receipt no longer counts for
   * reimbursement, and the pick-up page's verification says so; taken back, it counts again.
   */
  async receivePaperExchanged(tx: Tx, e: PaperExchanged): Promise<void> {
    const row = await tx.receipt.findUnique({ where: { receiptId: e.receiptId } });
    if (!row || row.status === "RED_FLUSHED") return;
    await tx.receipt.update({
      where: { receiptId: e.receiptId },
      data: e.returned
        ? { status: "ISSUED", paperBillCode: null, paperNumber: null }
        : { status: "PAPER_EXCHANGED", paperBillCode: e.paperBillCode, paperNumber: e.paperNumber },
    });
  }

  private async addDeliveries(
    tx: Tx,
    receiptId: string,
    agencyCode: string,
    channels: readonly Channel[],
    topic: "ISSUED" | "RED_FLUSHED",
  ): Promise<void> {
    const now = this.clock();
    for (const channel of channels) {
      await tx.delivery.create({
        data: {
          id: randomUUID(),
          receiptId,
          agencyCode,
          channel,
          topic,
          status: "PENDING",
          nextAttemptAt: now,
          createdAt: now,
          updatedAt: now,
        },
      });
    }
  }

  private async authorization(tx: Tx, agencyCode: string): Promise<Authorization> {
    const row = await tx.channelAuthorization.findUnique({ where: { agencyCode } });
    if (!row) return NOTHING_AUTHORIZED;
    return { email: row.email, sms: row.sms, webhook: row.webhookUrl !== null };
  }

  async find(receiptId: string): Promise<ReceiptRow | null> {
    return this.prisma.receipt.findUnique({ where: { receiptId } });
  }

  async findByCheck(billCode: string, number: string, checkCode: string): Promise<ReceiptRow | null> {
    const row = await this.prisma.receipt.findUnique({ where: { billCode_number: { billCode, number } } });
    return row && row.checkCode === checkCode ? row : null;
  }

  /** Receipts of one business serial number whose payer has this name (any agency, or one). */
  async findBySerialAndName(bizSerialNo: string, name: string, agencyCode?: string): Promise<ReceiptRow[]> {
    return this.prisma.receipt.findMany({
      where: {
        bizSerialNo,
        payerNameDigest: { in: this.protector.digests("name", name) },
        ...(agencyCode ? { agencyCode } : {}),
      },
      orderBy: { issuedAt: "desc" },
      take: 20,
    });
  }

  async findByPhone(phone: string): Promise<ReceiptRow[]> {
    return this.prisma.receipt.findMany({
      where: { payerPhoneDigest: { in: this.protector.digests("phone", phone) } },
      orderBy: { issuedAt: "desc" },
      take: 50,
    });
  }

  async hasPhone(phone: string): Promise<boolean> {
    const n = await this.prisma.receipt.count({
      where: { payerPhoneDigest: { in: this.protector.digests("phone", phone) } },
    });
    return n > 0;
  }

  payer(row: Pick<ReceiptRow, "receiptId" | "sealedPayer">): PayerDetails {
    return JSON.parse(this.protector.unseal(payerContext(row.receiptId), row.sealedPayer).toString("utf8"));
  }

  /** The document's base64, unsealed. */
  document(row: Pick<ReceiptRow, "receiptId" | "document">): string {
    return this.protector.openDocument(row.receiptId, row.document);
  }

  /**
   * Seals again what is not in the current format under the current key (rows from before
   * @piaoju/sealing, documents kept in clear, values under a key since rotated), with digests
   * under the current key. Run on start; returns how many rows changed.
   */
  async resealStale(): Promise<number> {
    const sealer = this.protector.sealer;
    const current = (bytes: Uint8Array) => {
      const info = sealer.inspect(bytes);
      return info.format === "v1" && info.current;
    };
    let count = 0;
    let after: string | undefined;
    for (;;) {
      const rows = await this.prisma.receipt.findMany({
        select: { receiptId: true, sealedPayer: true, document: true },
        ...(after ? { where: { receiptId: { gt: after } } } : {}),
        orderBy: { receiptId: "asc" },
        take: 200,
      });
      if (rows.length === 0) break;
      after = rows.at(-1)?.receiptId;
      for (const row of rows) {
        if (current(row.sealedPayer) && current(Buffer.from(row.document, "base64"))) continue;
        const payer = this.payer(row);
        await this.prisma.receipt.update({
          where: { receiptId: row.receiptId },
          data: {
            sealedPayer: new Uint8Array(
              this.protector.seal(payerContext(row.receiptId), JSON.stringify(payer)),
            ),
            payerNameDigest: this.protector.digest("name", payer.name),
            payerPhoneDigest: payer.phone ? this.protector.digest("phone", payer.phone) : null,
            document: this.protector.sealDocument(row.receiptId, this.document(row)),
          },
        });
        count++;
      }
    }
    const auths = await this.prisma.channelAuthorization.findMany({
      where: { sealedWebhookSecret: { not: null } },
      select: { agencyCode: true, sealedWebhookSecret: true },
    });
    for (const a of auths) {
      if (!a.sealedWebhookSecret || current(a.sealedWebhookSecret)) continue;
      const context = webhookSecretContext(a.agencyCode);
      await this.prisma.channelAuthorization.update({
        where: { agencyCode: a.agencyCode },
        data: {
          sealedWebhookSecret: new Uint8Array(
            this.protector.seal(context, this.protector.unseal(context, a.sealedWebhookSecret)),
          ),
        },
      });
      count++;
    }
    return count;
  }

  /** The receipt as rendered and shown, the payer unsealed. */
  view(row: ReceiptRow): ReceiptView {
    const payer = this.payer(row);
    const doc = readDocumentFields(Buffer.from(this.document(row), "base64").toString("utf8"));
    return {
      receiptId: row.receiptId,
      agencyCode: row.agencyCode,
      agencyName: doc.agencyName,
      billName: doc.billName ?? DEFAULT_BILL_NAME,
      billCode: row.billCode,
      number: row.number,
      checkCode: row.checkCode,
      kind: row.kind === "red" ? "red" : "blue",
      status: row.status === "RED_FLUSHED" || row.status === "PAPER_EXCHANGED" ? row.status : "ISSUED",
      issuedAt: row.issuedAt,
      supervisedAt: row.supervisedAt,
      totalFen: row.totalFen,
      bizSerialNo: row.bizSerialNo,
      payMode: doc.payMode,
      payer,
      items: row.items as unknown as ReceiptLine[],
      remark: row.remark ?? undefined,
      handlingPerson: row.handlingPerson,
      checker: row.checker ?? undefined,
      related:
        doc.relatedBillCode && doc.relatedNumber
          ? { billCode: doc.relatedBillCode, number: doc.relatedNumber }
          : undefined,
      redFlush:
        row.redBillCode && row.redNumber && row.redFlushedAt
          ? {
              billCode: row.redBillCode,
              number: row.redNumber,
              reason: row.redReason ?? "",
              at: row.redFlushedAt,
            }
          : undefined,
      paper:
        row.paperBillCode && row.paperNumber
          ? { billCode: row.paperBillCode, number: row.paperNumber }
          : undefined,
      documentSm3: row.documentSm3,
    };
  }
}

function payerContext(receiptId: string): string {
  return `receipt/${receiptId}/payer`;
}

export function webhookSecretContext(agencyCode: string): string {
  return `agency/${agencyCode}/webhook-secret`;
}
