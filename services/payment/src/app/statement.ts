import ExcelJS from "exceljs";
import type { PaymentContext } from "./context.ts";
import { RECEIPT_LEG } from "./reconcile-receipts.ts";

/** One line of the unified statement (统一对账单): a payment or a refund of the day, at any channel. */
export interface StatementEntry {
  channel: string;
  /** payment; duplicate (a second order of a notice paid, refunded by its route); refund. */
  type: "payment" | "duplicate" | "refund";
  at: string;
  bizSerialNo: string;
  paymentCode: string;
  decisionNo?: string;
  orderId: string;
  channelTradeNo?: string;
  refundId?: string;
  /** Positive: taken, or paid back (a refund's sign is its type). */
  amountFen: number;
  /** The channel's fee, when its statement says it (the statements read here do not yet). */
  feeFen?: number;
  receiptNumber?: string;
  /** MATCHED, a difference's kind (the work list's), or UNRECONCILED (no run of that channel's day yet). */
  status: string;
}

export interface ChannelTotal {
  channel: string;
  payments: number;
  collectedFen: number;
  refunds: number;
  refundedFen: number;
  netFen: number;
  differences: number;
}

export interface UnifiedStatement {
  agencyCode: string;
  businessDay: string;
  entries: StatementEntry[];
  totals: ChannelTotal[];
  /** The three-way match's open findings (no channel line of their own). */
  receiptDifferences: number;
}

const dayStart = (day: string) => new Date(`${day}T00:00:00+08:00`);

/**
 * 统一对账单: every payment and refund of an agency's Asia/Shanghai day across channels, with its
 * trade numbers, payment code, decision, receipt and reconciliation status, and totals per channel.
 */
export async function unifiedStatement(
  ctx: PaymentContext,
  input: { agencyCode: string; businessDay: string },
): Promise<UnifiedStatement> {
  const { agencyCode, businessDay } = input;
  const from = dayStart(businessDay);
  const to = new Date(from.getTime() + 86_400_000);
  const payments = await ctx.db.query<{
    id: string;
    channel: string;
    channel_trade_no: string | null;
    paid_at: Date;
    taken_fen: string | number | null;
    amount_fen: string | number;
    payment_id: string;
    paid_order_id: string | null;
    biz_serial_no: string;
    payment_code: string;
    decision_no: string | null;
    receipt: { number?: string } | null;
  }>(
    `SELECT o.id, o.channel, o.channel_trade_no, o.paid_at, o.taken_fen, o.amount_fen, o.payment_id, p.paid_order_id,
            p.biz_serial_no, p.payment_code, p.decision_no, p.receipt
       FROM payment_order o JOIN payment p ON p.id = o.payment_id
      WHERE o.agency_code = $1 AND o.status = 'PAID' AND o.paid_at >= $2 AND o.paid_at < $3
      ORDER BY o.paid_at, o.id`,
    [agencyCode, from, to],
  );
  const refunds = await ctx.db.query<{
    id: string;
    order_id: string;
    channel: string;
    channel_trade_no: string;
    amount_fen: string | number;
    refunded_at: Date;
    biz_serial_no: string;
    payment_code: string;
    decision_no: string | null;
  }>(
    `SELECT r.id, r.order_id, r.channel, r.channel_trade_no, r.amount_fen, r.refunded_at, p.biz_serial_no,
            p.payment_code, p.decision_no
       FROM payment_refund r JOIN payment p ON p.id = r.payment_id
      WHERE r.agency_code = $1 AND r.status = 'REFUNDED' AND r.refunded_at >= $2 AND r.refunded_at < $3
      ORDER BY r.refunded_at, r.id`,
    [agencyCode, from, to],
  );
  const findings = await ctx.db.query<{
    channel: string;
    kind: string;
    order_id: string | null;
    refund_id: string | null;
    payment_id: string | null;
    resolution: string;
  }>(
    `SELECT channel, kind, order_id, refund_id, payment_id, resolution FROM payment_difference
      WHERE agency_code = $1 AND business_day = $2`,
    [agencyCode, businessDay],
  );
  const ran = new Set(
    (
      await ctx.db.query<{ channel: string }>(
        "SELECT channel FROM payment_reconciliation WHERE agency_code = $1 AND business_day = $2",
        [agencyCode, businessDay],
      )
    ).map((r) => r.channel),
  );
  // A line's channel finding first (it is about the money), else its three-way one.
  const byOrder = new Map<string, string>();
  const byRefund = new Map<string, string>();
  const byPayment = new Map<string, string>();
  const put = (m: Map<string, string>, k: string | null, kind: string) => {
    if (k && !m.has(k)) m.set(k, kind);
  };
  for (const f of findings.filter((x) => x.channel !== RECEIPT_LEG)) {
    if (f.refund_id) put(byRefund, f.refund_id, f.kind);
    else put(byOrder, f.order_id, f.kind);
  }
  for (const f of findings.filter((x) => x.channel === RECEIPT_LEG)) {
    if (f.refund_id) put(byRefund, f.refund_id, f.kind);
    else put(byPayment, f.payment_id, f.kind);
  }
  const entries: StatementEntry[] = [];
  for (const o of payments) {
    entries.push({
      channel: o.channel,
      type: o.paid_order_id === o.id ? "payment" : "duplicate",
      at: o.paid_at.toISOString(),
      bizSerialNo: o.biz_serial_no,
      paymentCode: o.payment_code,
      ...(o.decision_no ? { decisionNo: o.decision_no } : {}),
      orderId: o.id,
      ...(o.channel_trade_no ? { channelTradeNo: o.channel_trade_no } : {}),
      amountFen: Number(o.taken_fen ?? o.amount_fen),
      ...(o.paid_order_id === o.id && o.receipt?.number ? { receiptNumber: o.receipt.number } : {}),
      status:
        byOrder.get(o.id) ??
        (o.paid_order_id === o.id ? byPayment.get(o.payment_id) : undefined) ??
        (ran.has(o.channel) ? "MATCHED" : "UNRECONCILED"),
    });
  }
  for (const r of refunds) {
    entries.push({
      channel: r.channel,
      type: "refund",
      at: r.refunded_at.toISOString(),
      bizSerialNo: r.biz_serial_no,
      paymentCode: r.payment_code,
      ...(r.decision_no ? { decisionNo: r.decision_no } : {}),
      orderId: r.order_id,
      channelTradeNo: r.channel_trade_no,
      refundId: r.id,
      amountFen: Number(r.amount_fen),
      status: byRefund.get(r.id) ?? (ran.has(r.channel) ? "MATCHED" : "UNRECONCILED"),
    });
  }
  // Lines only a channel has (never booked here) are on the work list, not here: they are no payment of ours.
  const totals = new Map<string, ChannelTotal>();
  for (const e of entries) {
    const t = totals.get(e.channel) ?? {
      channel: e.channel,
      payments: 0,
      collectedFen: 0,
      refunds: 0,
      refundedFen: 0,
      netFen: 0,
      differences: 0,
    };
    if (e.type === "refund") {
      t.refunds++;
      t.refundedFen += e.amountFen;
    } else {
      t.payments++;
      t.collectedFen += e.amountFen;
    }
    t.netFen = t.collectedFen - t.refundedFen;
    totals.set(e.channel, t);
  }
  for (const f of findings) {
    if (f.resolution !== "OPEN" || f.channel === RECEIPT_LEG) continue;
    const t = totals.get(f.channel);
    if (t) t.differences++;
  }
  const receiptDifferences = findings.filter(
    (f) => f.channel === RECEIPT_LEG && f.resolution === "OPEN",
  ).length;
  return {
    agencyCode,
    businessDay,
    entries,
    totals: [...totals.values()].sort((a, b) => a.channel.localeCompare(b.channel)),
    receiptDifferences,
  };
}

const CHANNEL_NAMES: Record<string, string> = { alipay: "支付宝", wechat: "微信支付", unionpay: "银联" };
const TYPE_NAMES: Record<StatementEntry["type"], string> = {
  payment: "缴款",
  duplicate: "重复缴款",
  refund: "退付",
};
const COLUMNS = [
  "渠道",
  "类型",
  "时间",
  "业务流水号",
  "缴款识别码",
  "处罚决定书号",
  "商户订单号",
  "渠道交易号",
  "退款单号",
  "金额（元）",
  "手续费（元）",
  "票据号码",
  "对账状态",
] as const;
const yuan = (fen: number) => (fen / 100).toFixed(2);
const shanghai = (iso: string) =>
  new Date(new Date(iso).getTime() + 8 * 3_600_000).toISOString().slice(0, 19).replace("T", " ");

function cells(e: StatementEntry): Array<string | number> {
  return [
    CHANNEL_NAMES[e.channel] ?? e.channel,
    TYPE_NAMES[e.type],
    shanghai(e.at),
    e.bizSerialNo,
    e.paymentCode,
    e.decisionNo ?? "",
    e.orderId,
    e.channelTradeNo ?? "",
    e.refundId ?? "",
    (e.type === "refund" ? -e.amountFen : e.amountFen) / 100,
    e.feeFen === undefined ? "" : e.feeFen / 100,
    e.receiptNumber ?? "",
    e.status,
  ];
}

const totalCells = (t: ChannelTotal) => [
  CHANNEL_NAMES[t.channel] ?? t.channel,
  t.payments,
  yuan(t.collectedFen),
  t.refunds,
  yuan(t.refundedFen),
  yuan(t.netFen),
  t.differences,
];
const TOTAL_COLUMNS = [
  "渠道",
  "缴款笔数",
  "缴款金额（元）",
  "退付笔数",
  "退付金额（元）",
  "净额（元）",
  "差异",
];

/** CSV (RFC 4180) in UTF-8 with a BOM, so Excel opens the Chinese as it is: the lines, then the totals. */
export function statementCsv(s: UnifiedStatement): Buffer {
  const quote = (v: string | number) => {
    const text = typeof v === "number" ? v.toFixed(2) : v;
    return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  };
  const line = (vs: ReadonlyArray<string | number>) => vs.map(quote).join(",");
  const rows = [
    line([`统一对账单 ${s.agencyCode} ${s.businessDay}`]),
    line([...COLUMNS]),
    ...s.entries.map((e) => line(cells(e).map((c) => (typeof c === "number" ? c.toFixed(2) : c)))),
    "",
    line(TOTAL_COLUMNS),
    ...s.totals.map((t) => line(totalCells(t).map(String))),
    line([`三方对账差异（票据）: ${s.receiptDifferences}`]),
  ];
  return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(`${rows.join("\r\n")}\r\n`, "utf8")]);
}

/** The same as an Excel workbook: a sheet of lines (money as numbers in yuan) and a sheet of totals per channel. */
export async function statementXlsx(s: UnifiedStatement): Promise<Buffer> {
  const book = new ExcelJS.Workbook();
  book.creator = "piaoju";
  const sheet = book.addWorksheet("对账明细");
  const title = sheet.addRow([`统一对账单 ${s.agencyCode} ${s.businessDay}`]);
  title.font = { size: 14, bold: true };
  const header = sheet.addRow([...COLUMNS]);
  header.font = { bold: true };
  sheet.views = [{ state: "frozen", ySplit: header.number }];
  for (const e of s.entries) sheet.addRow(cells(e));
  for (const i of [10, 11]) sheet.getColumn(i).numFmt = "#,##0.00;[Red]-#,##0.00";
  COLUMNS.forEach((_, i) => {
    sheet.getColumn(i + 1).width = i >= 3 && i <= 8 ? 24 : 14;
  });
  const totals = book.addWorksheet("渠道汇总");
  totals.addRow(TOTAL_COLUMNS).font = { bold: true };
  for (const t of s.totals)
    totals.addRow([
      CHANNEL_NAMES[t.channel] ?? t.channel,
      t.payments,
      t.collectedFen / 100,
      t.refunds,
      t.refundedFen / 100,
      t.netFen / 100,
      t.differences,
    ]);
  totals.addRow(["三方对账差异（票据）", s.receiptDifferences]);
  for (const i of [3, 5, 6]) totals.getColumn(i).numFmt = "#,##0.00";
  return Buffer.from(await book.xlsx.writeBuffer());
}
