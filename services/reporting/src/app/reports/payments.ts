import { type ReportTable, sums, table, type Values, withSubtotals } from "../../domain/report-table.ts";
import { type ReportDeps, type ReportFilters, reportContext } from "./context.ts";

const CHANNEL_TEXT: Record<string, string> = { alipay: "支付宝", wechat: "微信支付", unionpay: "银联" };
const channelText = (c: string) => CHANNEL_TEXT[c] ?? c;
const day = (column: string) => `to_char(${column}, 'YYYY-MM-DD')`;

/**
 * 缴款收缴情况: per day the channel booked and per channel, the payments taken, the payer's
 * refunds and the duplicate payments' refunds paid back that day, and what stays (collected −
 * refunded; a duplicate's money came and went by its own route and counts in neither).
 */
export async function collectionsReport(
  deps: ReportDeps,
  f: ReportFilters,
  caller: string,
): Promise<ReportTable> {
  const { ctx } = await reportContext(deps, f, caller);
  const rows = await deps.db.query<{
    day: string;
    channel: string;
    payments: string | number;
    collected: string | number;
    refunds: string | number;
    refunded: string | number;
    duplicates: string | number;
    duplicate_fen: string | number;
  }>(
    `WITH c AS (SELECT business_day, channel, COUNT(*) AS payments, SUM(paid_fen) AS collected FROM payment_collected
                 WHERE agency_code = $1 AND business_day BETWEEN $2 AND $3 GROUP BY business_day, channel),
          r AS (SELECT business_day, channel,
                       COUNT(*) FILTER (WHERE kind = 'REFUND') AS refunds,
                       COALESCE(SUM(amount_fen) FILTER (WHERE kind = 'REFUND'), 0) AS refunded,
                       COUNT(*) FILTER (WHERE kind = 'DUPLICATE') AS duplicates,
                       COALESCE(SUM(amount_fen) FILTER (WHERE kind = 'DUPLICATE'), 0) AS duplicate_fen
                  FROM payment_refunded WHERE agency_code = $1 AND business_day BETWEEN $2 AND $3
                 GROUP BY business_day, channel)
     SELECT ${day("COALESCE(c.business_day, r.business_day)")} AS day, COALESCE(c.channel, r.channel) AS channel,
            COALESCE(c.payments, 0) AS payments, COALESCE(c.collected, 0) AS collected,
            COALESCE(r.refunds, 0) AS refunds, COALESCE(r.refunded, 0) AS refunded,
            COALESCE(r.duplicates, 0) AS duplicates, COALESCE(r.duplicate_fen, 0) AS duplicate_fen
       FROM c FULL JOIN r ON r.business_day = c.business_day AND r.channel = c.channel
      ORDER BY 1, 2`,
    [f.agencyCode, f.period.from, f.period.to],
  );
  const details: Values[] = rows.map((r) => ({
    day: r.day,
    channel: channelText(r.channel),
    payments: Number(r.payments),
    collectedFen: Number(r.collected),
    refunds: Number(r.refunds),
    refundedFen: Number(r.refunded),
    duplicates: Number(r.duplicates),
    duplicateFen: Number(r.duplicate_fen),
    netFen: Number(r.collected) - Number(r.refunded),
  }));
  const summed = [
    "payments",
    "collectedFen",
    "refunds",
    "refundedFen",
    "duplicates",
    "duplicateFen",
    "netFen",
  ];
  return table(ctx, {
    report: "collections",
    title: "缴款收缴情况",
    columns: [
      { key: "day", title: "营业日", kind: "date" },
      { key: "channel", title: "缴款渠道", kind: "text" },
      { key: "payments", title: "缴款笔数", kind: "count" },
      { key: "collectedFen", title: "缴款金额", kind: "money" },
      { key: "refunds", title: "退付笔数", kind: "count" },
      { key: "refundedFen", title: "退付金额", kind: "money" },
      { key: "duplicates", title: "重复缴款退付笔数", kind: "count" },
      { key: "duplicateFen", title: "重复缴款退付金额", kind: "money" },
      { key: "netFen", title: "净收缴", kind: "money" },
    ],
    rows: withSubtotals(
      details,
      (v) => String(v.day),
      (v) => ({ day: v.day, channel: "当日小计" }),
      summed,
    ),
    totals: { day: "合计", ...sums(details, summed) },
    charts: [
      {
        id: "collected-per-day",
        title: "每日缴款金额",
        x: "day",
        series: [{ key: "collectedFen", title: "缴款金额", kind: "money" }],
        points: [...new Set(details.map((d) => String(d.day)))].map((d) => ({
          day: d,
          ...sums(
            details.filter((x) => x.day === d),
            ["collectedFen"],
          ),
        })),
      },
    ],
  });
}

/** 退付明细 (or 重复缴款退付, `kind` DUPLICATE): every refund paid back in the period, by day. */
export async function refundsReport(
  deps: ReportDeps,
  f: ReportFilters,
  caller: string,
  kind: "REFUND" | "DUPLICATE" | undefined,
): Promise<ReportTable> {
  const { ctx } = await reportContext(deps, f, caller);
  const rows = await deps.db.query<Record<string, string>>(
    `SELECT ${day("business_day")} AS day, channel, kind, biz_serial_no, refund_serial_no, channel_trade_no,
            amount_fen, remaining_fen, refunded_at
       FROM payment_refunded WHERE agency_code = $1 AND business_day BETWEEN $2 AND $3 ${kind ? "AND kind = $4" : ""}
      ORDER BY business_day, refunded_at, refund_id`,
    kind ? [f.agencyCode, f.period.from, f.period.to, kind] : [f.agencyCode, f.period.from, f.period.to],
  );
  const details: Values[] = rows.map((r) => ({
    day: r.day as string,
    channel: channelText(String(r.channel)),
    kind: r.kind === "DUPLICATE" ? "重复缴款退付" : "原渠道退付",
    bizSerialNo: String(r.biz_serial_no),
    refundSerialNo: String(r.refund_serial_no),
    channelTradeNo: String(r.channel_trade_no),
    amountFen: Number(r.amount_fen),
    remainingFen: Number(r.remaining_fen),
    refundedAt: new Date(r.refunded_at as unknown as Date).toISOString(),
  }));
  const title = kind === "DUPLICATE" ? "重复缴款退付明细" : "退付明细";
  return table(ctx, {
    report: kind === "DUPLICATE" ? "duplicate-refunds" : "refunds",
    title,
    columns: [
      { key: "day", title: "营业日", kind: "date" },
      { key: "channel", title: "缴款渠道", kind: "text" },
      { key: "kind", title: "退付类型", kind: "text" },
      { key: "bizSerialNo", title: "业务流水号", kind: "text" },
      { key: "refundSerialNo", title: "退款流水号", kind: "text" },
      { key: "channelTradeNo", title: "渠道交易号", kind: "text" },
      { key: "amountFen", title: "退付金额", kind: "money" },
      { key: "remainingFen", title: "退后余额", kind: "money" },
      { key: "refundedAt", title: "退付时间", kind: "datetime" },
    ],
    rows: withSubtotals(
      details,
      (v) => String(v.day),
      (v) => ({ day: v.day, channel: "当日小计" }),
      ["amountFen"],
    ),
    totals: { day: `合计 ${details.length} 笔`, ...sums(details, ["amountFen"]) },
  });
}

const DIFFERENCE_TEXT: Record<string, string> = {
  ONLY_AT_CHANNEL: "渠道有本方无",
  ONLY_HERE: "本方有渠道无",
  AMOUNT: "金额不符",
  STATUS: "状态不符",
  LOST_NOTIFY: "通知丢失（已补单）",
  CROSS_DAY: "跨日（次日账单）",
};
const RESOLUTION_TEXT: Record<string, string> = {
  OPEN: "待处理",
  REPAIRED: "已自动修复",
  HELD: "挂账待次日",
};

/** 渠道对账差异: each channel's day as the newest run matched it, and its findings. */
export async function channelDifferencesReport(
  deps: ReportDeps,
  f: ReportFilters,
  caller: string,
): Promise<ReportTable> {
  const { ctx } = await reportContext(deps, f, caller);
  const runs = await deps.db.query<Record<string, string | number>>(
    `SELECT ${day("business_day")} AS day, channel, matched, differences, repaired, held, collected_fen, refunded_fen
       FROM channel_reconciliation WHERE agency_code = $1 AND business_day BETWEEN $2 AND $3 ORDER BY 1, 2`,
    [f.agencyCode, f.period.from, f.period.to],
  );
  const found = await deps.db.query<Record<string, string | number | null>>(
    `SELECT ${day("d.business_day")} AS day, d.channel, d.kind, d.subject, d.order_id, d.refund_id, d.channel_trade_no,
            d.our_fen, d.channel_fen, d.resolution
       FROM channel_difference d JOIN channel_reconciliation r ON r.agency_code = d.agency_code
        AND r.channel = d.channel AND r.business_day = d.business_day AND r.completed_at = d.found_at
      WHERE d.agency_code = $1 AND d.business_day BETWEEN $2 AND $3 ORDER BY 1, 2, d.id`,
    [f.agencyCode, f.period.from, f.period.to],
  );
  const rows: ReportTable["rows"] = [];
  const figures: Values[] = [];
  for (const run of runs) {
    for (const x of found.filter((x) => x.day === run.day && x.channel === run.channel)) {
      rows.push({
        type: "detail",
        values: {
          day: String(x.day),
          channel: channelText(String(x.channel)),
          kind: DIFFERENCE_TEXT[String(x.kind)] ?? String(x.kind),
          subject: x.subject === "refund" ? "退付" : "缴款",
          orderId: (x.order_id as string | null) ?? null,
          channelTradeNo: (x.channel_trade_no as string | null) ?? null,
          ourFen: x.our_fen === null ? null : Number(x.our_fen),
          channelFen: x.channel_fen === null ? null : Number(x.channel_fen),
          resolution: RESOLUTION_TEXT[String(x.resolution)] ?? String(x.resolution),
        },
      });
    }
    const v = {
      matched: Number(run.matched),
      differences: Number(run.differences),
      repaired: Number(run.repaired),
      held: Number(run.held),
      collectedFen: Number(run.collected_fen),
      refundedFen: Number(run.refunded_fen),
    };
    figures.push(v);
    rows.push({
      type: "subtotal",
      values: { day: String(run.day), channel: channelText(String(run.channel)), kind: "当日小计", ...v },
    });
  }
  const summed = ["matched", "differences", "repaired", "held", "collectedFen", "refundedFen"];
  return table(ctx, {
    report: "payment-differences",
    title: "渠道对账差异",
    columns: [
      { key: "day", title: "对账日期", kind: "date" },
      { key: "channel", title: "缴款渠道", kind: "text" },
      { key: "kind", title: "差异类型", kind: "text" },
      { key: "subject", title: "对象", kind: "text" },
      { key: "orderId", title: "订单号", kind: "text" },
      { key: "channelTradeNo", title: "渠道交易号", kind: "text" },
      { key: "ourFen", title: "本方金额", kind: "money" },
      { key: "channelFen", title: "渠道金额", kind: "money" },
      { key: "resolution", title: "处理状态", kind: "text" },
      { key: "matched", title: "一致笔数", kind: "count" },
      { key: "differences", title: "待处理差异", kind: "count" },
      { key: "repaired", title: "自动修复", kind: "count" },
      { key: "held", title: "跨日挂账", kind: "count" },
      { key: "collectedFen", title: "对平缴款金额", kind: "money" },
      { key: "refundedFen", title: "对平退付金额", kind: "money" },
    ],
    rows,
    totals: { day: `合计 ${runs.length} 个渠道日`, ...sums(figures, summed) },
  });
}

const CLEARING_TEXT: Record<string, string> = { INSTRUCTED: "已下达", DONE: "已划转", REFUSED: "被拒绝" };

/** 资金清分: each day's instructions per finance special account, and where each stands. */
export async function clearingReport(
  deps: ReportDeps,
  f: ReportFilters,
  caller: string,
): Promise<ReportTable> {
  const { ctx } = await reportContext(deps, f, caller);
  const rows = await deps.db.query<Record<string, string | number | null>>(
    `SELECT ${day("business_day")} AS day, account_no, account_name, collected_fen, refunded_fen, amount_fen, status,
            note, instruction_id
       FROM clearing_instruction WHERE agency_code = $1 AND business_day BETWEEN $2 AND $3
      ORDER BY business_day, account_no`,
    [f.agencyCode, f.period.from, f.period.to],
  );
  const details: Values[] = rows.map((r) => ({
    day: String(r.day),
    accountNo: String(r.account_no),
    accountName: String(r.account_name),
    collectedFen: Number(r.collected_fen),
    refundedFen: Number(r.refunded_fen),
    amountFen: Number(r.amount_fen),
    status: CLEARING_TEXT[String(r.status)] ?? String(r.status),
    note: (r.note as string | null) ?? null,
    instructionId: String(r.instruction_id),
  }));
  const summed = ["collectedFen", "refundedFen", "amountFen"];
  return table(ctx, {
    report: "clearing",
    title: "资金清分划转",
    columns: [
      { key: "day", title: "营业日", kind: "date" },
      { key: "accountNo", title: "财政专户账号", kind: "text" },
      { key: "accountName", title: "专户名称", kind: "text" },
      { key: "collectedFen", title: "清分缴款", kind: "money" },
      { key: "refundedFen", title: "清分退付", kind: "money" },
      { key: "amountFen", title: "划转金额", kind: "money" },
      { key: "status", title: "状态", kind: "text" },
      { key: "note", title: "说明", kind: "text" },
      { key: "instructionId", title: "指令编号", kind: "text" },
    ],
    rows: withSubtotals(
      details,
      (v) => String(v.day),
      (v) => ({ day: v.day, accountNo: "当日小计" }),
      summed,
    ),
    totals: { day: "合计", ...sums(details, summed) },
  });
}
