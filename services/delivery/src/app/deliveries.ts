import { fenToChineseUpper, fenToYuan } from "@piaoju/locale";
import { AppError } from "@piaoju/runtime";
import { CHANNELS, type Channel } from "../domain/channels.ts";
import type { Protector } from "../domain/protect.ts";
import type { ReceiptView } from "../domain/receipt.ts";
import { qrText } from "../domain/receipt-text.ts";
import { afterFailure, type RetryPolicy } from "../domain/schedule.ts";
import { withoutContacts } from "../domain/scrub.ts";
import type { PrismaClient } from "../generated/prisma/client.ts";
import { type MailSender, pushWebhook, type SmsSender } from "../providers/providers.ts";
import { type Receipts, webhookSecretContext } from "./receipts.ts";

export interface DeliveryView {
  id: string;
  receiptId: string;
  channel: string;
  topic: string;
  status: string;
  attempts: number;
  nextAttemptAt: string | null;
  lastError: string | null;
  deliveredAt: string | null;
}

export interface ChannelsView {
  agencyCode: string;
  /** What the agency authorized and the platform can send: what receipts will go out on. */
  channels: Array<{ channel: Channel; authorized: boolean; available: boolean }>;
  webhookUrl: string | null;
  updatedAt: string | null;
  updatedBy: string | null;
}

export interface DeliveryDeps {
  prisma: PrismaClient;
  receipts: Receipts;
  protector: Protector;
  mail?: MailSender | undefined;
  sms?: SmsSender | undefined;
  retry: RetryPolicy;
  /** Where payers pick receipts up, for links in messages; absent: no link. */
  publicUrl?: string | undefined;
  render: (view: ReceiptView) => Promise<Buffer>;
  clock: () => Date;
  log: (fields: Record<string, unknown>, msg: string) => void;
}

/** A claimed delivery is left alone this long by other workers: a crash mid-send retries after it. */
const LEASE_MS = 60_000;
const BATCH = 20;

/**
 * Sending: a worker claims due deliveries (SKIP LOCKED, so two replicas never send the same
 * one at once), tries each, and records the outcome: delivered, retry later with backoff, or
 * parked after the last try. People see the state per receipt and channel and re-push.
 */
export class Deliveries {
  constructor(private readonly d: DeliveryDeps) {}

  /** Channels the platform has a provider for (SMTP / SMS gateway configured; webhooks always). */
  static available(mail: unknown, sms: unknown): Set<Channel> {
    const set = new Set<Channel>(["WEBHOOK"]);
    if (mail) set.add("EMAIL");
    if (sms) set.add("SMS");
    return set;
  }

  /** Runs every due delivery once; returns how many were tried. */
  async runDue(): Promise<number> {
    const now = this.d.clock();
    const claimed = await this.d.prisma.$queryRaw<Array<{ id: string }>>`
      UPDATE delivery SET next_attempt_at = ${new Date(now.getTime() + LEASE_MS)}
      WHERE id IN (
        SELECT id FROM delivery WHERE status = 'PENDING' AND next_attempt_at <= ${now}
        ORDER BY next_attempt_at LIMIT ${BATCH} FOR UPDATE SKIP LOCKED)
      RETURNING id`;
    for (const { id } of claimed) await this.attempt(id);
    return claimed.length;
  }

  private async attempt(id: string): Promise<void> {
    const delivery = await this.d.prisma.delivery.findUniqueOrThrow({
      where: { id },
      include: { receipt: true },
    });
    const attempts = delivery.attempts + 1;
    try {
      await this.send(
        delivery.id,
        delivery.channel as Channel,
        delivery.topic,
        this.d.receipts.view(delivery.receipt),
      );
      const now = this.d.clock();
      await this.d.prisma.delivery.update({
        where: { id },
        data: { status: "DELIVERED", attempts, deliveredAt: now, updatedAt: now, lastError: null },
      });
    } catch (error) {
      const now = this.d.clock();
      const next = afterFailure(attempts, this.d.retry, now);
      const lastError = withoutContacts(error instanceof Error ? error.message : String(error)).slice(0, 500);
      await this.d.prisma.delivery.update({
        where: { id },
        data: {
          status: next.status,
          attempts,
          lastError,
          updatedAt: now,
          ...(next.status === "PENDING" ? { nextAttemptAt: next.nextAttemptAt } : {}),
        },
      });
      this.d.log(
        { deliveryId: id, channel: delivery.channel, attempts, status: next.status, error: lastError },
        next.status === "PARKED" ? "delivery parked after its last try" : "delivery failed, will retry",
      );
    }
  }

  private async send(deliveryId: string, channel: Channel, topic: string, r: ReceiptView): Promise<void> {
    const amount = fenToYuan(r.totalFen);
    const link = this.d.publicUrl
      ? `${this.d.publicUrl}/h5/pickup#qr=${encodeURIComponent(qrText({ ...r, totalYuan: amount }))}`
      : undefined;
    if (channel === "EMAIL") {
      if (!this.d.mail || !r.payer.email) throw new Error("no SMTP server configured or no e-mail address");
      const red = r.kind === "red";
      await this.d.mail.send({
        to: r.payer.email,
        subject: `【${red ? "电子票据冲红" : "电子票据"}】${r.billName} ${r.billCode}-${r.number}`,
        text: [
          `${r.payer.name}：您好！`,
          red
            ? `您的票据已冲红，红字票据金额 ${amount} 元（${fenToChineseUpper(r.totalFen)}）。`
            : `您缴纳的 ${amount} 元（${fenToChineseUpper(r.totalFen)}）已开具财政电子票据。`,
          `票据代码：${r.billCode}  票据号码：${r.number}  校验码：${r.checkCode}`,
          "电子票据 PDF 见附件；可凭票据代码、号码和校验码查验真伪。",
          ...(link ? [`在线取票：${link}`] : []),
        ].join("\n"),
        attachment: { filename: `${r.billCode}-${r.number}.pdf`, content: await this.d.render(r) },
      });
      return;
    }
    if (channel === "SMS") {
      if (!this.d.sms || !r.payer.phone) throw new Error("no SMS gateway configured or no phone number");
      await this.d.sms.send(r.payer.phone, r.kind === "red" ? "RECEIPT_RED_ISSUED" : "RECEIPT_ISSUED", {
        billCode: r.billCode,
        number: r.number,
        checkCode: r.checkCode,
        amount,
        ...(link ? { link } : {}),
      });
      return;
    }
    const auth = await this.d.prisma.channelAuthorization.findUnique({ where: { agencyCode: r.agencyCode } });
    if (!auth?.webhookUrl || !auth.sealedWebhookSecret)
      throw new Error("the agency has no webhook configured");
    const secret = this.d.protector
      .unseal(webhookSecretContext(r.agencyCode), auth.sealedWebhookSecret)
      .toString("utf8");
    const body = Buffer.from(JSON.stringify(await this.webhookBody(topic, r)), "utf8");
    await pushWebhook(auth.webhookUrl, secret, deliveryId, body, this.d.clock());
  }

  /** What the business system receives: the receipt's identity and outcome (no payer contacts), and the PDF. */
  private async webhookBody(topic: string, r: ReceiptView): Promise<Record<string, unknown>> {
    const common = {
      receiptId: r.receiptId,
      agencyCode: r.agencyCode,
      bizSerialNo: r.bizSerialNo,
      billCode: r.billCode,
      number: r.number,
      checkCode: r.checkCode,
      kind: r.kind,
      totalFen: Number(r.totalFen),
      issuedAt: r.issuedAt.toISOString(),
      qrText: qrText({ ...r, totalYuan: fenToYuan(r.totalFen) }),
    };
    if (topic === "RED_FLUSHED") {
      return {
        event: "receipt.redFlushed",
        ...common,
        redFlush: r.redFlush && { ...r.redFlush, at: r.redFlush.at.toISOString() },
      };
    }
    return { event: "receipt.issued", ...common, pdf: (await this.d.render(r)).toString("base64") };
  }

  async forReceipt(
    receiptId: string,
  ): Promise<{ agencyCode: string; issuingPointCode: string; deliveries: DeliveryView[] }> {
    const receipt = await this.d.prisma.receipt.findUnique({
      where: { receiptId },
      select: { agencyCode: true, issuingPointCode: true },
    });
    if (!receipt)
      throw new AppError("not_found", `receipt ${receiptId} is unknown to delivery`, {
        code: "RECEIPT_UNKNOWN",
      });
    const rows = await this.d.prisma.delivery.findMany({
      where: { receiptId },
      orderBy: [{ createdAt: "asc" }, { channel: "asc" }],
    });
    return {
      agencyCode: receipt.agencyCode,
      issuingPointCode: receipt.issuingPointCode,
      deliveries: rows.map(view),
    };
  }

  /** The latest deliveries of an agency; of some issuing points only when the caller's scope is those points. */
  async list(
    agencyCodes: readonly string[] | "*",
    status?: string,
    points: ReadonlySet<string> | "*" = "*",
  ): Promise<DeliveryView[]> {
    const inPoints =
      points === "*"
        ? undefined
        : (
            await this.d.prisma.$queryRaw<Array<{ id: string }>>`
              SELECT d.id::text AS id FROM delivery d JOIN receipt r ON r.receipt_id = d.receipt_id
              WHERE r.issuing_point_code = ANY(${[...points]}::text[])
              ORDER BY d.updated_at DESC LIMIT 200`
          ).map((r) => r.id);
    const rows = await this.d.prisma.delivery.findMany({
      where: {
        ...(agencyCodes === "*" ? {} : { agencyCode: { in: [...agencyCodes] } }),
        ...(status ? { status } : {}),
        ...(inPoints ? { id: { in: inPoints } } : {}),
      },
      orderBy: { updatedAt: "desc" },
      take: 200,
    });
    return rows.map(view);
  }

  /** A person re-pushes a receipt on a channel (重新推送): due now, tries counted afresh; audited. */
  async repush(actor: string, receiptId: string, channel: Channel): Promise<DeliveryView[]> {
    const now = this.d.clock();
    const changed = await this.d.prisma.$transaction(async (tx) => {
      const rows = await tx.delivery.findMany({ where: { receiptId, channel } });
      if (rows.length === 0) {
        throw new AppError("not_found", `receipt ${receiptId} has no ${channel} delivery`, {
          code: "DELIVERY_UNKNOWN",
        });
      }
      const updated = [];
      for (const row of rows) {
        updated.push(
          await tx.delivery.update({
            where: { id: row.id },
            data: { status: "PENDING", attempts: 0, nextAttemptAt: now, updatedAt: now },
          }),
        );
      }
      await tx.auditLog.create({
        data: {
          actor,
          action: "delivery.repush",
          subject: `receipt:${receiptId}`,
          detail: {
            channel,
            previous: rows.map((r) => ({ id: r.id, status: r.status, attempts: r.attempts })),
          },
        },
      });
      return updated;
    });
    return changed.map(view);
  }

  async channels(agencyCode: string): Promise<ChannelsView> {
    const row = await this.d.prisma.channelAuthorization.findUnique({ where: { agencyCode } });
    const available = Deliveries.available(this.d.mail, this.d.sms);
    const authorized: Record<Channel, boolean> = {
      EMAIL: row?.email ?? false,
      SMS: row?.sms ?? false,
      WEBHOOK: row?.webhookUrl != null,
    };
    return {
      agencyCode,
      channels: CHANNELS.map((channel) => ({
        channel,
        authorized: authorized[channel],
        available: available.has(channel),
      })),
      webhookUrl: row?.webhookUrl ?? null,
      updatedAt: row?.updatedAt.toISOString() ?? null,
      updatedBy: row?.updatedBy ?? null,
    };
  }

  /** Sets an agency's channels (交付渠道授权); the webhook secret is stored sealed; audited. */
  async setChannels(
    actor: string,
    agencyCode: string,
    input: { email: boolean; sms: boolean; webhook: { url: string; secret: string } | null },
  ): Promise<ChannelsView> {
    const now = this.d.clock();
    const data = {
      email: input.email,
      sms: input.sms,
      webhookUrl: input.webhook?.url ?? null,
      sealedWebhookSecret: input.webhook
        ? new Uint8Array(this.d.protector.seal(webhookSecretContext(agencyCode), input.webhook.secret))
        : null,
      updatedAt: now,
      updatedBy: actor,
    };
    await this.d.prisma.$transaction(async (tx) => {
      await tx.channelAuthorization.upsert({
        where: { agencyCode },
        create: { agencyCode, ...data },
        update: data,
      });
      await tx.auditLog.create({
        data: {
          actor,
          action: "delivery.channels.set",
          subject: `agency:${agencyCode}`,
          detail: { email: input.email, sms: input.sms, webhookUrl: input.webhook?.url ?? null },
        },
      });
    });
    return this.channels(agencyCode);
  }
}

function view(row: {
  id: string;
  receiptId: string;
  channel: string;
  topic: string;
  status: string;
  attempts: number;
  nextAttemptAt: Date;
  lastError: string | null;
  deliveredAt: Date | null;
}): DeliveryView {
  return {
    id: row.id,
    receiptId: row.receiptId,
    channel: row.channel,
    topic: row.topic,
    status: row.status,
    attempts: row.attempts,
    nextAttemptAt: row.status === "PENDING" ? row.nextAttemptAt.toISOString() : null,
    lastError: row.lastError,
    deliveredAt: row.deliveredAt?.toISOString() ?? null,
  };
}
