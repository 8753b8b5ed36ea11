import { type ProColumns, ProTable } from "@ant-design/pro-components";
import { Button, Descriptions, Drawer, Table, Tag } from "antd";
import { useEffect, useState } from "react";
import { internal, query, yuan } from "../api.ts";
import { businessDay } from "../data.ts";
import { useT } from "../i18n.tsx";
import { useSession } from "../session.tsx";
import { useShowError } from "../ui.tsx";

interface PaymentRow {
  id: string;
  noticeNo: string;
  paymentCode: string;
  bizSerialNo: string;
  decisionNo?: string;
  issuingPointCode: string;
  payerName: string;
  principalFen: number;
  status: string;
  paidAt?: string;
  paidFen?: number;
  refundedFen: number;
  createdAt: string;
}
interface RefundRow {
  refundId: string;
  paymentId: string;
  noticeNo: string;
  refundSerialNo: string;
  kind: "REFUND" | "DUPLICATE";
  amountFen: number;
  reason: string;
  status: string;
  channel: string;
  refundedAt?: string;
  reportedToNontax: boolean;
  lastError?: string;
  requestedBy: string;
  createdAt: string;
}
interface Reconciliation {
  channel: string;
  businessDay: string;
  matched: number;
  differences: number;
  repaired: number;
  held: number;
  collectedFen: number;
  refundedFen: number;
  ranAt: string;
  ranBy: string;
}

const PAYMENT_STATUS: Record<string, [string, string, string]> = {
  CREATED: ["待缴款", "unpaid", "default"],
  PAYING: ["缴款中", "paying", "processing"],
  PAID: ["已缴款", "paid", "success"],
  CLOSED: ["已关闭", "closed", "default"],
  FAILED: ["已失效", "failed", "error"],
  REFUNDING: ["退款中", "refunding", "warning"],
  REFUNDED: ["已退款", "refunded", "purple"],
};
const REFUND_STATUS: Record<string, [string, string, string]> = {
  APPLYING: ["申请中", "applying", "processing"],
  AWAITING_APPROVAL: ["待审批", "awaiting approval", "warning"],
  APPROVED: ["已审批", "approved", "cyan"],
  SENT: ["已提交渠道", "sent to the channel", "processing"],
  REFUNDED: ["已退款", "refunded", "success"],
  REJECTED: ["审批驳回", "rejected", "error"],
  FAILED: ["退款失败", "failed", "error"],
};
const DIFFERENCE: Record<string, [string, string]> = {
  LOST_NOTIFY: ["漏通知（已补单）", "lost notify (repaired)"],
  CROSS_DAY: ["跨日（挂账）", "cross-day (held)"],
  ONLY_AT_CHANNEL: ["渠道有、本地无", "only at the channel"],
  ONLY_HERE: ["本地有、渠道无", "only here"],
  AMOUNT: ["金额不符", "amount differs"],
  STATUS: ["状态不符", "status differs"],
};
const CHANNELS = [
  { value: "alipay", label: "支付宝 Alipay" },
  { value: "wechat", label: "微信支付 WeChat Pay" },
  { value: "unionpay", label: "银联 UnionPay" },
  { value: "bank", label: "银行柜台 Bank counter" },
];

function tagOf(
  map: Record<string, [string, string, string]>,
  s: string,
  t: (zh: string, en: string) => string,
) {
  const [zh, en, colour] = map[s] ?? [s, s, "default"];
  return <Tag color={colour}>{t(zh, en)}</Tag>;
}

/** 张三丰 → 张*丰: the detail route has the whole name; the console shows no more than the cashier does. */
export function maskName(name: string): string {
  const chars = [...name];
  if (chars.length <= 1) return name;
  if (chars.length === 2) return `${chars[0]}*`;
  return `${chars[0]}${"*".repeat(chars.length - 2)}${chars[chars.length - 1]}`;
}

const lastMonth = () => [businessDay(new Date(Date.now() - 29 * 86_400_000)), businessDay()];
const dateRange = (t: (zh: string, en: string) => string, zh: string, en: string) =>
  ({
    title: t(zh, en),
    dataIndex: "period",
    valueType: "dateRange",
    hideInTable: true,
    initialValue: lastMonth(),
  }) as const;

/** Server paging for the finance office's lists: ProTable's page and filters as the route's query. */
function pagedRequest<T>(
  path: string,
  agency: string,
  showError: (e: unknown) => void,
): (p: Record<string, unknown>) => Promise<{ data: T[]; total: number; success: boolean }> {
  return async (p) => {
    const {
      current = 1,
      pageSize = 20,
      period,
      ...filters
    } = p as {
      current?: number;
      pageSize?: number;
      period?: [string, string];
    } & Record<string, string | number | undefined>;
    try {
      const out = await internal<{ items: T[]; total: number }>(
        "GET",
        `${path}${query({
          agencyCode: agency,
          ...filters,
          from: period?.[0],
          to: period?.[1],
          limit: pageSize,
          offset: (current - 1) * pageSize,
        })}`,
      );
      return { data: out.items, total: out.total, success: true };
    } catch (e) {
      showError(e);
      return { data: [], total: 0, success: false };
    }
  };
}

/** 缴款查询: an agency's payment notices over days, by state or number; the detail with orders and refunds. */
export function Payments() {
  const showError = useShowError();
  const t = useT();
  const { agency } = useSession();
  const [open, setOpen] = useState<string>();
  const columns: ProColumns<PaymentRow>[] = [
    dateRange(t, "创建日期", "Created"),
    {
      title: t("缴款书号 / 识别码 / 流水号", "Notice / code / serial"),
      dataIndex: "number",
      hideInTable: true,
    },
    {
      title: t("缴款书号", "Notice"),
      dataIndex: "noticeNo",
      search: false,
      render: (_, r) => (
        <Button type="link" size="small" className="payment-link" onClick={() => setOpen(r.id)}>
          {r.noticeNo}
        </Button>
      ),
    },
    { title: t("缴款识别码", "Payment code"), dataIndex: "paymentCode", search: false, copyable: true },
    { title: t("交款人", "Payer"), dataIndex: "payerName", search: false },
    { title: t("开票点", "Point"), dataIndex: "issuingPointCode", search: false },
    {
      title: t("状态", "Status"),
      dataIndex: "status",
      valueType: "select",
      fieldProps: {
        options: Object.entries(PAYMENT_STATUS).map(([value, [zh, en]]) => ({ value, label: t(zh, en) })),
      },
      render: (_, r) => tagOf(PAYMENT_STATUS, r.status, t),
    },
    {
      title: t("应缴（元）", "Due (yuan)"),
      dataIndex: "principalFen",
      search: false,
      align: "right",
      render: (_, r) => yuan(r.principalFen),
    },
    {
      title: t("实缴（元）", "Paid (yuan)"),
      dataIndex: "paidFen",
      search: false,
      align: "right",
      render: (_, r) => (r.paidFen === undefined ? "—" : yuan(r.paidFen)),
    },
    {
      title: t("创建时间", "Created"),
      dataIndex: "createdAt",
      search: false,
      render: (_, r) => new Date(r.createdAt).toLocaleString(),
    },
  ];
  return (
    <>
      <ProTable<PaymentRow>
        id="payments"
        headerTitle={t("缴款查询", "Payments")}
        rowKey="id"
        columns={columns}
        options={false}
        search={{ labelWidth: "auto" }}
        pagination={{ defaultPageSize: 20, showSizeChanger: true }}
        request={pagedRequest<PaymentRow>("/v1/payment/payments", agency, showError)}
      />
      <PaymentDetail id={open} onClose={() => setOpen(undefined)} />
    </>
  );
}

function PaymentDetail({ id, onClose }: { id: string | undefined; onClose: () => void }) {
  const showError = useShowError();
  const t = useT();
  const [data, setData] = useState<{
    payment: Record<string, unknown>;
    orders: Array<Record<string, unknown>>;
    refunds: RefundRow[];
  }>();
  useEffect(() => {
    setData(undefined);
    if (!id) return;
    let live = true;
    Promise.all([
      internal("GET", `/v1/payments/${id}`),
      internal<{ items: Array<Record<string, unknown>> }>("GET", `/v1/payments/${id}/orders`),
      internal<{ items: RefundRow[] }>("GET", `/v1/payments/${id}/refunds`),
    ])
      .then(
        ([payment, orders, refunds]) =>
          live && setData({ payment, orders: orders.items, refunds: refunds.items }),
      )
      .catch((e) => live && showError(e));
    return () => {
      live = false;
    };
  }, [id, showError]);
  const p = data?.payment;
  const due = p?.amountDue as { totalFen: number; surchargeFen: number; daysLate: number } | undefined;
  return (
    <Drawer open={Boolean(id)} width={760} title={t("缴款详情", "Payment")} onClose={onClose}>
      {p && (
        <>
          <Descriptions id="payment-detail" size="small" column={2} bordered>
            <Descriptions.Item label={t("缴款书号", "Notice")}>{String(p.noticeNo)}</Descriptions.Item>
            <Descriptions.Item label={t("状态", "Status")}>
              {tagOf(PAYMENT_STATUS, String(p.status), t)}
            </Descriptions.Item>
            <Descriptions.Item label={t("缴款识别码", "Payment code")}>
              {String(p.paymentCode)}
            </Descriptions.Item>
            <Descriptions.Item label={t("业务流水号", "Serial")}>{String(p.bizSerialNo)}</Descriptions.Item>
            <Descriptions.Item label={t("交款人", "Payer")}>
              <span id="payment-payer">{maskName(String(p.payerName))}</span>
            </Descriptions.Item>
            <Descriptions.Item label={t("处罚决定书号", "Decision")}>
              {String(p.decisionNo ?? "—")}
            </Descriptions.Item>
            <Descriptions.Item label={t("应缴本金（元）", "Principal (yuan)")}>
              {yuan(Number(p.principalFen))}
            </Descriptions.Item>
            <Descriptions.Item label={t("当前应缴（元）", "Due now (yuan)")}>
              {due
                ? `${yuan(due.totalFen)}${due.surchargeFen ? t(`（含加处罚款 ${yuan(due.surchargeFen)}）`, ` (surcharge ${yuan(due.surchargeFen)})`) : ""}`
                : "—"}
            </Descriptions.Item>
            <Descriptions.Item label={t("缴款期限", "Deadline")}>
              {String(p.deadline ?? "—")}
            </Descriptions.Item>
            <Descriptions.Item label={t("票据", "Receipt")}>
              {p.receipt ? String((p.receipt as Record<string, unknown>).number ?? "") : "—"}
            </Descriptions.Item>
          </Descriptions>
          <h4 style={{ marginTop: 16 }}>{t("支付订单", "Channel orders")}</h4>
          <Table
            size="small"
            rowKey={(o) => String(o.orderId)}
            pagination={false}
            dataSource={data.orders}
            locale={{ emptyText: t("暂无支付订单", "No orders yet") }}
            columns={[
              { title: t("渠道", "Channel"), dataIndex: "channel" },
              { title: t("场景", "Scene"), dataIndex: "scene" },
              { title: t("金额（元）", "Amount"), dataIndex: "amountFen", render: (v: number) => yuan(v) },
              { title: t("状态", "Status"), dataIndex: "status" },
            ]}
          />
          <h4 style={{ marginTop: 16 }}>{t("退款", "Refunds")}</h4>
          <RefundTable rows={data.refunds} />
        </>
      )}
    </Drawer>
  );
}

function RefundTable({ rows }: { rows: RefundRow[] }) {
  const t = useT();
  return (
    <Table<RefundRow>
      size="small"
      rowKey="refundId"
      pagination={false}
      dataSource={rows}
      locale={{ emptyText: t("暂无退款", "No refunds") }}
      columns={[
        { title: t("退款流水号", "Refund serial"), dataIndex: "refundSerialNo" },
        { title: t("金额（元）", "Amount"), dataIndex: "amountFen", render: (v: number) => yuan(v) },
        {
          title: t("状态", "Status"),
          dataIndex: "status",
          render: (s: string) => tagOf(REFUND_STATUS, s, t),
        },
        { title: t("原因", "Reason"), dataIndex: "reason" },
      ]}
    />
  );
}

/** 退款: every refund of the agency with its approval state and whether 非税 heard of it. */
export function Refunds() {
  const showError = useShowError();
  const t = useT();
  const { agency } = useSession();
  const columns: ProColumns<RefundRow>[] = [
    dateRange(t, "申请日期", "Requested"),
    { title: t("退款流水号", "Refund serial"), dataIndex: "refundSerialNo", search: false },
    { title: t("缴款书号", "Notice"), dataIndex: "noticeNo", search: false },
    {
      title: t("类型", "Kind"),
      dataIndex: "kind",
      search: false,
      render: (_, r) =>
        r.kind === "DUPLICATE" ? t("重复缴款退回", "duplicate payment") : t("退费", "refund"),
    },
    {
      title: t("金额（元）", "Amount (yuan)"),
      dataIndex: "amountFen",
      search: false,
      align: "right",
      render: (_, r) => yuan(r.amountFen),
    },
    {
      title: t("审批状态", "State"),
      dataIndex: "status",
      valueType: "select",
      fieldProps: {
        options: Object.entries(REFUND_STATUS).map(([value, [zh, en]]) => ({ value, label: t(zh, en) })),
      },
      render: (_, r) => <span className="refund-status">{tagOf(REFUND_STATUS, r.status, t)}</span>,
    },
    { title: t("渠道", "Channel"), dataIndex: "channel", search: false },
    { title: t("原因", "Reason"), dataIndex: "reason", search: false, ellipsis: true },
    {
      title: t("已报非税", "Told 非税"),
      dataIndex: "reportedToNontax",
      search: false,
      render: (_, r) => (r.reportedToNontax ? t("是", "yes") : t("否", "no")),
    },
    { title: t("申请人", "By"), dataIndex: "requestedBy", search: false },
    {
      title: t("申请时间", "At"),
      dataIndex: "createdAt",
      search: false,
      render: (_, r) => new Date(r.createdAt).toLocaleString(),
    },
  ];
  return (
    <ProTable<RefundRow>
      id="refunds"
      headerTitle={t("退款", "Refunds")}
      rowKey="refundId"
      columns={columns}
      options={false}
      search={{ labelWidth: "auto" }}
      pagination={{ defaultPageSize: 20, showSizeChanger: true }}
      request={pagedRequest<RefundRow>("/v1/payment/refunds", agency, showError)}
    />
  );
}

/** 日终对账: each channel's statement of a day against ours, and the differences work list. */
export function ChannelReconciliations() {
  const showError = useShowError();
  const t = useT();
  const { agency } = useSession();
  const [open, setOpen] = useState<Reconciliation>();
  const [diffs, setDiffs] = useState<Array<Record<string, unknown>>>([]);
  const show = async (r: Reconciliation) => {
    setOpen(r);
    setDiffs([]);
    try {
      const out = await internal<{ items: Array<Record<string, unknown>> }>(
        "GET",
        `/v1/payment/reconciliations/${r.channel}/${r.businessDay}/differences${query({ agencyCode: agency })}`,
      );
      setDiffs(out.items);
    } catch (e) {
      showError(e);
    }
  };
  const columns: ProColumns<Reconciliation>[] = [
    dateRange(t, "对账日", "Day"),
    { title: t("对账日", "Day"), dataIndex: "businessDay", search: false },
    {
      title: t("渠道", "Channel"),
      dataIndex: "channel",
      valueType: "select",
      fieldProps: { options: CHANNELS },
    },
    { title: t("一致笔数", "Matched"), dataIndex: "matched", search: false, align: "right" },
    {
      title: t("差异", "Differences"),
      dataIndex: "differences",
      search: false,
      align: "right",
      render: (_, r) =>
        r.differences ? (
          <Button type="link" size="small" className="recon-differences" onClick={() => void show(r)}>
            <Tag color="error">{r.differences}</Tag>
          </Button>
        ) : (
          <Button type="link" size="small" className="recon-differences" onClick={() => void show(r)}>
            0
          </Button>
        ),
    },
    { title: t("已补单", "Repaired"), dataIndex: "repaired", search: false, align: "right" },
    { title: t("跨日挂账", "Held"), dataIndex: "held", search: false, align: "right" },
    {
      title: t("收款（元）", "Collected"),
      dataIndex: "collectedFen",
      search: false,
      align: "right",
      render: (_, r) => yuan(r.collectedFen),
    },
    {
      title: t("退款（元）", "Refunded"),
      dataIndex: "refundedFen",
      search: false,
      align: "right",
      render: (_, r) => yuan(r.refundedFen),
    },
    {
      title: t("对账时间", "Ran at"),
      dataIndex: "ranAt",
      search: false,
      render: (_, r) => `${new Date(r.ranAt).toLocaleString()} · ${r.ranBy}`,
    },
  ];
  return (
    <>
      <ProTable<Reconciliation>
        id="channel-reconciliations"
        headerTitle={t("渠道日终对账", "Day-end reconciliation with the channels")}
        rowKey={(r) => `${r.channel}/${r.businessDay}`}
        columns={columns}
        options={false}
        search={{ labelWidth: "auto" }}
        pagination={{ defaultPageSize: 20 }}
        request={pagedRequest<Reconciliation>("/v1/payment/reconciliations", agency, showError)}
      />
      <Drawer
        open={Boolean(open)}
        width={820}
        title={open ? `${t("差异处理清单", "Differences")} · ${open.channel} · ${open.businessDay}` : ""}
        onClose={() => setOpen(undefined)}
      >
        <Table
          id="payment-differences"
          size="small"
          rowKey={(d) => `${String(d.kind)}/${String(d.subject)}`}
          dataSource={diffs}
          pagination={{ pageSize: 20 }}
          locale={{ emptyText: t("无差异", "No differences") }}
          columns={[
            {
              title: t("差异类型", "Kind"),
              dataIndex: "kind",
              render: (k: string) => t(...(DIFFERENCE[k] ?? [k, k])),
            },
            { title: t("对象", "Subject"), dataIndex: "subject" },
            { title: t("渠道交易号", "Channel trade no"), dataIndex: "channelTradeNo" },
            {
              title: t("本地（元）", "Ours"),
              dataIndex: "ourFen",
              render: (v?: number) => (v === undefined ? "—" : yuan(v)),
            },
            {
              title: t("渠道（元）", "Channel's"),
              dataIndex: "channelFen",
              render: (v?: number) => (v === undefined ? "—" : yuan(v)),
            },
            {
              title: t("处理", "Resolution"),
              dataIndex: "resolution",
              render: (r: string) =>
                r === "OPEN" ? (
                  <Tag color="error">{t("待处理", "open")}</Tag>
                ) : r === "REPAIRED" ? (
                  <Tag color="success">{t("已补单", "repaired")}</Tag>
                ) : (
                  <Tag>{t("挂账", "held")}</Tag>
                ),
            },
          ]}
        />
      </Drawer>
    </>
  );
}
