import {
  ModalForm,
  ProCard,
  type ProColumns,
  ProFormDigit,
  ProFormList,
  ProFormSelect,
  ProFormText,
  ProFormTextArea,
  ProTable,
} from "@ant-design/pro-components";
import { Button, DatePicker, Descriptions, Empty, Space, Statistic, Table, Tag } from "antd";
import dayjs from "dayjs";
import { type ReactNode, useCallback, useEffect, useState } from "react";
import { ApiError, internal, query, yuan } from "../api.ts";
import { businessDay } from "../data.ts";
import { useT } from "../i18n.tsx";
import { useCan, useSession } from "../session.tsx";
import { useShowError } from "../ui.tsx";

type T = (zh: string, en: string) => string;

const yesterday = () => businessDay(new Date(Date.now() - 86_400_000));

const CHANNEL_NAMES: Record<string, [string, string]> = {
  alipay: ["支付宝", "Alipay"],
  wechat: ["微信支付", "WeChat Pay"],
  unionpay: ["银联", "UnionPay"],
  bank: ["银行柜台", "Bank counter"],
  receipt: ["三方对账（票据）", "Three-way (receipts)"],
};
const channelName = (t: T, c?: string) => (c ? t(...(CHANNEL_NAMES[c] ?? [c, c])) : "—");

/** Every difference class the work list shows, channel, three-way and funds arrival alike. */
const KINDS: Record<string, [string, string]> = {
  LOST_NOTIFY: ["漏通知（已补单）", "lost notify (repaired)"],
  CROSS_DAY: ["跨日（挂账）", "cross-day (held)"],
  ONLY_AT_CHANNEL: ["渠道有、本地无", "only at the channel"],
  ONLY_HERE: ["本地有、渠道无", "only here"],
  AMOUNT: ["金额不符", "amount differs"],
  STATUS: ["状态不符", "status differs"],
  FEE: ["手续费不符", "fee differs"],
  RECEIPT_MISSING: ["已缴款未开票", "paid, no receipt"],
  RECEIPT_AMOUNT: ["票据金额不符", "receipt amount differs"],
  RECEIPT_DUPLICATE: ["重复开票", "receipt issued twice"],
  RECEIPT_WITHOUT_PAYMENT: ["有票无款", "receipt without payment"],
  REFUND_NOT_RED_FLUSHED: ["已退款未冲红", "refunded, not red-flushed"],
  REISSUE_MISSING: ["部分退款未重开", "partial refund, no re-issue"],
  RED_FLUSH_WITHOUT_REFUND: ["冲红无退款", "red-flushed, no refund"],
  SETTLED_NOT_ARRIVED: ["已结算未到账", "settled, not arrived"],
  AMOUNT_DIFFERS: ["到账金额不符", "arrived amount differs"],
  ARRIVED_NOT_SETTLED: ["到账无结算", "arrived, not settled"],
};
const kindName = (t: T, k: string) => t(...(KINDS[k] ?? [k, k]));

const RESOLUTION: Record<string, [string, string, string]> = {
  OPEN: ["待处理", "open", "error"],
  HANDLED: ["已处理", "handled", "success"],
  REPAIRED: ["已补单", "repaired", "success"],
  HELD: ["挂账", "held", "default"],
};
const INSTRUCTION: Record<string, [string, string, string]> = {
  PENDING: ["待发送", "pending", "default"],
  ACCEPTED: ["已发送，划转中", "sent, transferring", "processing"],
  DONE: ["已划转", "done", "success"],
  REFUSED: ["被拒绝", "refused", "error"],
  PARKED: ["发送失败（已搁置）", "parked", "warning"],
};
const BATCH: Record<string, [string, string, string]> = {
  INSTRUCTED: ["清分中", "instructed", "processing"],
  SETTLED: ["已完成", "settled", "success"],
  REFUSED: ["有被拒指令", "refused", "error"],
};
function tag(map: Record<string, [string, string, string]>, s: string, t: T) {
  const [zh, en, colour] = map[s] ?? [s, s, "default"];
  return <Tag color={colour}>{t(zh, en)}</Tag>;
}
const money = (v?: number) => (v === undefined || v === null ? "—" : yuan(v));

/** One day, picked (Asia/Shanghai business days, as the platform counts them). */
function DayPicker({ id, day, onChange }: { id: string; day: string; onChange: (d: string) => void }) {
  return (
    <DatePicker
      id={id}
      allowClear={false}
      value={dayjs(day)}
      onChange={(v) => v && onChange(v.format("YYYY-MM-DD"))}
    />
  );
}

/** A GET of one day's figure, with the page's own "not there" (404) kept apart from errors. */
function useDay<V>(path: string | undefined): { data?: V; missing: boolean; reload: () => void } {
  const showError = useShowError();
  const [data, setData] = useState<V>();
  const [missing, setMissing] = useState(false);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    setData(undefined);
    setMissing(false);
    if (!path || tick < 0) return;
    let live = true;
    internal<V>("GET", path)
      .then((v) => live && setData(v))
      .catch((e) => {
        if (!live) return;
        if (e instanceof ApiError && e.status === 404) setMissing(true);
        else showError(e);
      });
    return () => {
      live = false;
    };
  }, [path, tick, showError]);
  return { data, missing, reload: useCallback(() => setTick((n) => n + 1), []) };
}

// ———————————————————————————————————————————— 统一对账单

interface StatementEntry {
  channel: string;
  type: "payment" | "duplicate" | "refund";
  at: string;
  bizSerialNo: string;
  paymentCode: string;
  decisionNo?: string;
  orderId: string;
  channelTradeNo?: string;
  refundId?: string;
  amountFen: number;
  feeFen?: number;
  receiptNumber?: string;
  status: string;
}
interface Statement {
  entries: StatementEntry[];
  totals: Array<{
    channel: string;
    payments: number;
    collectedFen: number;
    refunds: number;
    refundedFen: number;
    netFen: number;
    differences: number;
  }>;
  receiptDifferences: number;
}

/** 统一对账单: an agency's day across channels, its lines and totals; xlsx and CSV by the session. */
export function UnifiedStatementPage() {
  const t = useT();
  const { agency } = useSession();
  const [day, setDay] = useState(yesterday());
  const path = agency ? `/v1/payment/statements/${day}` : undefined;
  const { data } = useDay<Statement>(path ? `${path}${query({ agencyCode: agency })}` : undefined);
  const file = (format: "xlsx" | "csv") => `/api/internal${path}${query({ agencyCode: agency, format })}`;
  const type = (e: StatementEntry) =>
    e.type === "refund"
      ? t("退付", "refund")
      : e.type === "duplicate"
        ? t("重复缴款", "duplicate")
        : t("缴款", "payment");
  return (
    <ProCard
      id="statement"
      title={t("统一对账单", "Unified statement")}
      extra={
        <Space>
          <DayPicker id="statement-day" day={day} onChange={setDay} />
          <Button id="statement-xlsx" href={file("xlsx")} disabled={!path}>
            {t("下载 Excel", "Download xlsx")}
          </Button>
          <Button id="statement-csv" href={file("csv")} disabled={!path}>
            {t("下载 CSV", "Download CSV")}
          </Button>
        </Space>
      }
    >
      <Table
        id="statement-totals"
        size="small"
        rowKey="channel"
        pagination={false}
        dataSource={data?.totals ?? []}
        locale={{ emptyText: t("当日无缴款或退款", "Nothing paid or refunded that day") }}
        columns={[
          { title: t("渠道", "Channel"), dataIndex: "channel", render: (c: string) => channelName(t, c) },
          { title: t("缴款笔数", "Payments"), dataIndex: "payments", align: "right" },
          { title: t("收款（元）", "Collected"), dataIndex: "collectedFen", align: "right", render: money },
          { title: t("退款笔数", "Refunds"), dataIndex: "refunds", align: "right" },
          { title: t("退款（元）", "Refunded"), dataIndex: "refundedFen", align: "right", render: money },
          { title: t("净额（元）", "Net"), dataIndex: "netFen", align: "right", render: money },
          {
            title: t("未处理差异", "Open differences"),
            dataIndex: "differences",
            align: "right",
            render: (n: number) => (n ? <Tag color="error">{n}</Tag> : 0),
          },
        ]}
      />
      {data && data.receiptDifferences > 0 && (
        <p id="statement-receipt-differences" style={{ marginTop: 8 }}>
          {t(
            `三方对账（票据）未处理差异 ${data.receiptDifferences} 笔`,
            `${data.receiptDifferences} open three-way differences`,
          )}
        </p>
      )}
      <h4 style={{ marginTop: 16 }}>{t("对账明细", "Lines")}</h4>
      <Table<StatementEntry>
        id="statement-lines"
        size="small"
        rowKey={(e) => `${e.orderId}/${e.refundId ?? ""}`}
        dataSource={data?.entries ?? []}
        pagination={{ pageSize: 50 }}
        scroll={{ x: 1200 }}
        columns={[
          { title: t("渠道", "Channel"), dataIndex: "channel", render: (c: string) => channelName(t, c) },
          { title: t("类型", "Type"), dataIndex: "type", render: (_: unknown, e) => type(e) },
          { title: t("时间", "At"), dataIndex: "at", render: (v: string) => new Date(v).toLocaleString() },
          { title: t("业务流水号", "Serial"), dataIndex: "bizSerialNo" },
          { title: t("缴款识别码", "Payment code"), dataIndex: "paymentCode" },
          { title: t("商户订单号", "Order"), dataIndex: "orderId" },
          { title: t("渠道交易号", "Channel trade no"), dataIndex: "channelTradeNo" },
          {
            title: t("金额（元）", "Amount"),
            dataIndex: "amountFen",
            align: "right",
            render: (_: unknown, e) => yuan(e.type === "refund" ? -e.amountFen : e.amountFen),
          },
          { title: t("手续费（元）", "Fee"), dataIndex: "feeFen", align: "right", render: money },
          { title: t("票据号", "Receipt"), dataIndex: "receiptNumber" },
          {
            title: t("对账状态", "Status"),
            dataIndex: "status",
            render: (s: string) =>
              s === "MATCHED" ? (
                <Tag color="success">{t("一致", "matched")}</Tag>
              ) : s === "UNRECONCILED" ? (
                <Tag>{t("未对账", "not reconciled")}</Tag>
              ) : (
                <Tag color="error" className="statement-difference">
                  {kindName(t, s)}
                </Tag>
              ),
          },
        ]}
      />
    </ProCard>
  );
}

// ———————————————————————————————————————————— 差异工作台

interface Difference {
  source: "reconciliation" | "funds";
  id: string;
  businessDay: string;
  leg: "channel" | "receipt" | "funds";
  channel?: string;
  kind: string;
  subject?: string;
  orderId?: string;
  refundId?: string;
  paymentId?: string;
  receiptId?: string;
  channelTradeNo?: string;
  entryRef?: string;
  ourFen?: number;
  otherFen?: number;
  resolution: string;
  foundAt: string;
  handledBy?: string;
  handledAt?: string;
  handledNote?: string;
}

/** 标记已处理: the person's note is required; the service keeps who, when and why (audited). */
function HandleButton({
  source,
  id,
  agency,
  onDone,
  trigger,
}: {
  source: "reconciliation" | "funds";
  id: string;
  agency: string;
  onDone: () => void;
  trigger: ReactNode;
}) {
  const t = useT();
  const showError = useShowError();
  return (
    <ModalForm<{ note: string }>
      title={t("标记差异已处理", "Mark the difference handled")}
      trigger={trigger}
      modalProps={{ destroyOnHidden: true }}
      submitter={{ submitButtonProps: { id: "handle-submit" } }}
      onFinish={async (v) => {
        try {
          await internal(
            "POST",
            `/v1/payment/${source === "funds" ? "funds-differences" : "differences"}/${id}/handle`,
            { agencyCode: agency, note: v.note },
          );
          onDone();
          return true;
        } catch (e) {
          showError(e);
          return false;
        }
      }}
    >
      <ProFormTextArea
        name="note"
        label={t("处理说明", "Note")}
        fieldProps={{ id: "handle-note", maxLength: 500, showCount: true }}
        rules={[{ required: true, whitespace: true, message: t("请填写处理说明", "A note is required") }]}
      />
    </ModalForm>
  );
}

/** 差异工作台: the open differences of every reconciliation, one list, each handled with a note. */
export function DifferencesWorkList() {
  const t = useT();
  const can = useCan();
  const showError = useShowError();
  const { agency } = useSession();
  const [tick, setTick] = useState(0);
  const columns: ProColumns<Difference>[] = [
    {
      title: t("对账日", "Day"),
      dataIndex: "period",
      valueType: "dateRange",
      hideInTable: true,
      initialValue: [businessDay(new Date(Date.now() - 30 * 86_400_000)), businessDay()],
    },
    { title: t("对账日", "Day"), dataIndex: "businessDay", search: false },
    {
      title: t("对账类型", "Leg"),
      dataIndex: "leg",
      valueType: "select",
      fieldProps: {
        options: [
          { value: "channel", label: t("渠道对账", "channel") },
          { value: "receipt", label: t("三方对账", "three-way") },
          { value: "funds", label: t("到账核对", "funds arrival") },
        ],
      },
      render: (_, d) =>
        d.leg === "funds"
          ? t("到账核对", "funds arrival")
          : d.leg === "receipt"
            ? t("三方对账", "three-way")
            : t("渠道对账", "channel"),
    },
    {
      title: t("渠道", "Channel"),
      dataIndex: "channel",
      search: false,
      render: (_, d) => channelName(t, d.channel),
    },
    {
      title: t("差异类型", "Kind"),
      dataIndex: "kind",
      search: false,
      render: (_, d) => <span className="difference-kind">{kindName(t, d.kind)}</span>,
    },
    {
      title: t("对象", "Subject"),
      dataIndex: "orderId",
      search: false,
      render: (_, d) => d.orderId ?? d.refundId ?? d.receiptId ?? d.entryRef ?? d.channelTradeNo ?? "—",
    },
    {
      title: t("本地 / 应到（元）", "Ours / expected"),
      dataIndex: "ourFen",
      search: false,
      align: "right",
      render: (_, d) => money(d.ourFen),
    },
    {
      title: t("对方（元）", "Theirs"),
      dataIndex: "otherFen",
      search: false,
      align: "right",
      render: (_, d) => money(d.otherFen),
    },
    {
      title: t("状态", "Status"),
      dataIndex: "status",
      valueType: "select",
      initialValue: "OPEN",
      fieldProps: {
        options: [
          { value: "OPEN", label: t("待处理", "open") },
          { value: "HANDLED", label: t("已处理", "handled") },
        ],
      },
      render: (_, d) => <span className="difference-status">{tag(RESOLUTION, d.resolution, t)}</span>,
    },
    {
      title: t("处理说明", "Note"),
      dataIndex: "handledNote",
      search: false,
      render: (_, d) =>
        d.handledBy ? (
          <span className="difference-note">
            {d.handledNote}（{d.handledBy} · {new Date(d.handledAt!).toLocaleString()}）
          </span>
        ) : (
          "—"
        ),
    },
    {
      title: t("操作", "Action"),
      valueType: "option",
      render: (_, d) =>
        d.resolution === "OPEN" && can("payment.reconcile") ? (
          <HandleButton
            source={d.source}
            id={d.id}
            agency={agency}
            onDone={() => setTick((n) => n + 1)}
            trigger={
              <Button size="small" className="difference-handle">
                {t("标记已处理", "Mark handled")}
              </Button>
            }
          />
        ) : null,
    },
  ];
  return (
    <ProTable<Difference>
      id="differences"
      headerTitle={t("差异工作台", "Differences work list")}
      rowKey={(d) => `${d.source}/${d.id}`}
      columns={columns}
      options={false}
      params={{ tick }}
      search={{ labelWidth: "auto" }}
      pagination={{ defaultPageSize: 20 }}
      request={async (p) => {
        const {
          current = 1,
          pageSize = 20,
          period,
          status,
          leg,
        } = p as {
          current?: number;
          pageSize?: number;
          period?: [string, string];
          status?: string;
          leg?: string;
        };
        try {
          const out = await internal<{ items: Difference[]; total: number }>(
            "GET",
            `/v1/payment/differences${query({
              agencyCode: agency,
              status,
              leg,
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
      }}
    />
  );
}

// ———————————————————————————————————————————— 资金清分

interface Instruction {
  instructionId: string;
  accountNo: string;
  accountName: string;
  bankName: string;
  collectedFen: number;
  refundedFen: number;
  amountFen: number;
  status: string;
  attempts: number;
  lastError?: string;
  note?: string;
  settledAt?: string;
  resends: number;
  resentBy?: string;
  resentAt?: string;
  resendNote?: string;
}
interface Batch {
  batchId: string;
  status: string;
  collectedFen: number;
  refundedFen: number;
  payments: number;
  createdAt: string;
  createdBy: string;
  instructions: Instruction[];
}
interface Rule {
  itemCode: string;
  shares: Array<{ accountNo: string; basisPoints: number }>;
  updatedAt: string;
  updatedBy: string;
}
interface Account {
  accountNo: string;
  name: string;
  bankName: string;
}

/** 资金清分: the rules per income item, and a day's clearing instructions with 重新发送 for a refused one. */
export function ClearingPage() {
  return (
    <Space direction="vertical" size="large" style={{ width: "100%" }}>
      <ClearingInstructions />
      <ClearingRules />
    </Space>
  );
}

function ClearingInstructions() {
  const t = useT();
  const can = useCan();
  const showError = useShowError();
  const { agency } = useSession();
  const [day, setDay] = useState(yesterday());
  const { data, missing, reload } = useDay<Batch>(
    agency ? `/v1/payment/clearings/${day}${query({ agencyCode: agency })}` : undefined,
  );
  return (
    <ProCard
      id="clearing"
      title={t("清分指令", "Clearing instructions")}
      extra={
        <Space>
          <DayPicker id="clearing-day" day={day} onChange={setDay} />
          <Button id="clearing-reload" onClick={reload}>
            {t("刷新", "Refresh")}
          </Button>
        </Space>
      }
    >
      {missing && (
        <Empty
          description={t(
            "该日尚未清分（对账未完成或仍有未处理差异）",
            "Not cleared (not reconciled, or differences open)",
          )}
        />
      )}
      {data && (
        <>
          <Descriptions id="clearing-batch" size="small" column={4} bordered>
            <Descriptions.Item label={t("批次状态", "Batch")}>{tag(BATCH, data.status, t)}</Descriptions.Item>
            <Descriptions.Item label={t("缴款笔数", "Payments")}>{data.payments}</Descriptions.Item>
            <Descriptions.Item label={t("收款（元）", "Collected")}>
              {yuan(data.collectedFen)}
            </Descriptions.Item>
            <Descriptions.Item label={t("退款（元）", "Refunded")}>
              {yuan(data.refundedFen)}
            </Descriptions.Item>
          </Descriptions>
          <Table<Instruction>
            id="clearing-instructions"
            style={{ marginTop: 16 }}
            size="small"
            rowKey="instructionId"
            pagination={false}
            dataSource={data.instructions}
            columns={[
              {
                title: t("财政专户", "Account"),
                dataIndex: "accountNo",
                render: (_: unknown, i) => `${i.accountName}（${i.accountNo}，${i.bankName}）`,
              },
              { title: t("划转金额（元）", "Amount"), dataIndex: "amountFen", align: "right", render: money },
              {
                title: t("状态", "Status"),
                dataIndex: "status",
                render: (s: string) => <span className="instruction-status">{tag(INSTRUCTION, s, t)}</span>,
              },
              {
                title: t("说明", "Note"),
                dataIndex: "note",
                render: (_: unknown, i) => (
                  <span className="instruction-note">
                    {[
                      i.note && t(`拒绝原因：${i.note}`, `refused: ${i.note}`),
                      i.lastError,
                      i.resends > 0 &&
                        t(
                          `已重新发送 ${i.resends} 次（${i.resentBy}：${i.resendNote}）`,
                          `re-sent ${i.resends}× (${i.resentBy}: ${i.resendNote})`,
                        ),
                    ]
                      .filter(Boolean)
                      .join("；") || "—"}
                  </span>
                ),
              },
              {
                title: t("操作", "Action"),
                key: "action",
                render: (_: unknown, i) =>
                  (i.status === "REFUSED" || i.status === "PARKED") && can("payment.reconcile") ? (
                    <ModalForm<{ note: string }>
                      title={t("重新发送清分指令", "Send the instruction again")}
                      trigger={
                        <Button size="small" danger className="instruction-resend">
                          {t("重新发送", "Re-send")}
                        </Button>
                      }
                      modalProps={{ destroyOnHidden: true }}
                      submitter={{ submitButtonProps: { id: "resend-submit" } }}
                      onFinish={async (v) => {
                        try {
                          await internal(
                            "POST",
                            `/v1/payment/clearing-instructions/${i.instructionId}/resend`,
                            {
                              agencyCode: agency,
                              note: v.note,
                            },
                          );
                          reload();
                          return true;
                        } catch (e) {
                          showError(e);
                          reload();
                          return false;
                        }
                      }}
                    >
                      <p>
                        {t(
                          `向非税系统重新发送 ${i.accountName} ${yuan(i.amountFen)} 元的清分指令（新的一次尝试）。`,
                          `Sends the instruction of ${yuan(i.amountFen)} to ${i.accountName} again (a new attempt).`,
                        )}
                      </p>
                      <ProFormTextArea
                        name="note"
                        label={t("重发原因", "Why")}
                        fieldProps={{ id: "resend-note", maxLength: 500, showCount: true }}
                        rules={[
                          {
                            required: true,
                            whitespace: true,
                            message: t("请填写重发原因", "A reason is required"),
                          },
                        ]}
                      />
                    </ModalForm>
                  ) : null,
              },
            ]}
          />
        </>
      )}
    </ProCard>
  );
}

function ClearingRules() {
  const t = useT();
  const can = useCan();
  const showError = useShowError();
  const { agency } = useSession();
  const [rules, setRules] = useState<Rule[]>([]);
  const [accounts, setAccounts] = useState<Account[]>([]);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (!agency || tick < 0) return;
    Promise.all([
      internal<{ items: Rule[] }>("GET", `/v1/payment/clearing-rules${query({ agencyCode: agency })}`),
      internal<{ items: Account[] }>("GET", `/v1/payment/clearing-accounts${query({ agencyCode: agency })}`),
    ])
      .then(([r, a]) => {
        setRules(r.items);
        setAccounts(a.items);
      })
      .catch(showError);
  }, [agency, tick, showError]);
  const nameOf = (no: string) => accounts.find((a) => a.accountNo === no)?.name ?? no;
  const editor = (rule?: Rule) => (
    <ModalForm<{ itemCode: string; shares: Array<{ accountNo: string; percent: number }> }>
      title={
        rule
          ? t(`修改清分规则 ${rule.itemCode}`, `Change the rule of ${rule.itemCode}`)
          : t("新增清分规则", "New rule")
      }
      trigger={
        <Button size="small" className="rule-edit">
          {rule ? t("修改", "Change") : t("新增规则", "New rule")}
        </Button>
      }
      modalProps={{ destroyOnHidden: true }}
      initialValues={
        rule
          ? {
              itemCode: rule.itemCode,
              shares: rule.shares.map((s) => ({ accountNo: s.accountNo, percent: s.basisPoints / 100 })),
            }
          : { shares: [{ percent: 100 }] }
      }
      onFinish={async (v) => {
        try {
          await internal("PUT", `/v1/payment/clearing-rules/${encodeURIComponent(v.itemCode)}`, {
            agencyCode: agency,
            shares: v.shares.map((s) => ({
              accountNo: s.accountNo,
              basisPoints: Math.round(s.percent * 100),
            })),
          });
          setTick((n) => n + 1);
          return true;
        } catch (e) {
          showError(e);
          return false;
        }
      }}
    >
      <ProFormText
        name="itemCode"
        label={t("收入项目编码", "Income item")}
        disabled={Boolean(rule)}
        fieldProps={{ id: "rule-item" }}
        rules={[{ required: true }]}
      />
      <ProFormList name="shares" label={t("分成（合计 100%）", "Shares (100 % in all)")} min={1} max={20}>
        <Space>
          <ProFormSelect
            name="accountNo"
            width="md"
            options={accounts.map((a) => ({ value: a.accountNo, label: `${a.name}（${a.accountNo}）` }))}
            rules={[{ required: true }]}
          />
          <ProFormDigit
            name="percent"
            width="xs"
            min={0.01}
            max={100}
            fieldProps={{ precision: 2, addonAfter: "%" }}
          />
        </Space>
      </ProFormList>
    </ModalForm>
  );
  return (
    <ProCard
      id="clearing-rules"
      title={t("清分规则（按收入项目）", "Clearing rules per income item")}
      extra={can("payment.channels") ? editor() : null}
    >
      <Table<Rule>
        id="clearing-rules-table"
        size="small"
        rowKey="itemCode"
        pagination={false}
        dataSource={rules}
        locale={{ emptyText: t("尚未设置清分规则", "No rules yet") }}
        columns={[
          { title: t("收入项目", "Item"), dataIndex: "itemCode" },
          {
            title: t("分成", "Shares"),
            dataIndex: "shares",
            render: (_: unknown, r) =>
              r.shares.map((s) => `${nameOf(s.accountNo)} ${(s.basisPoints / 100).toFixed(2)}%`).join("；"),
          },
          {
            title: t("最后修改", "Changed"),
            dataIndex: "updatedAt",
            render: (_: unknown, r) => `${new Date(r.updatedAt).toLocaleString()} · ${r.updatedBy}`,
          },
          ...(can("payment.channels")
            ? [{ title: t("操作", "Action"), key: "edit", render: (_: unknown, r: Rule) => editor(r) }]
            : []),
        ]}
      />
    </ProCard>
  );
}

// ———————————————————————————————————————————— 到账核对

interface FundsResult {
  settlementDay: string;
  arrivalDay: string;
  matched: number;
  expectedFen: number;
  arrivedFen: number;
  ranAt: string;
  differences: Array<{
    id: string;
    kind: string;
    channel?: string;
    entryRef?: string;
    debtorAccount?: string;
    expectedFen?: number;
    arrivedFen?: number;
    resolution: string;
    handledBy?: string;
    handledNote?: string;
  }>;
}

/** 到账核对: a settlement day's funds arrival match, its figures and differences. */
export function FundsArrivalPage() {
  const t = useT();
  const can = useCan();
  const { agency } = useSession();
  const [day, setDay] = useState(yesterday());
  const { data, missing, reload } = useDay<FundsResult>(
    agency ? `/v1/payment/funds-arrivals/${day}${query({ agencyCode: agency })}` : undefined,
  );
  return (
    <ProCard
      id="funds"
      title={t("到账资金核对", "Funds arrival")}
      extra={
        <Space>
          <DayPicker id="funds-day" day={day} onChange={setDay} />
          <Button id="funds-reload" onClick={reload}>
            {t("刷新", "Refresh")}
          </Button>
        </Space>
      }
    >
      {missing && (
        <Empty description={t("该结算日尚未核对到账", "No funds arrival match for that day yet")} />
      )}
      {data && (
        <>
          <Space id="funds-summary" size="large">
            <Statistic title={t("到账日", "Arrival day")} value={data.arrivalDay} />
            <Statistic title={t("核对一致（渠道）", "Matched channels")} value={data.matched} />
            <Statistic title={t("应到（元）", "Expected")} value={yuan(data.expectedFen)} />
            <Statistic title={t("实到（元）", "Arrived")} value={yuan(data.arrivedFen)} />
            <Statistic title={t("差异", "Differences")} value={data.differences.length} />
          </Space>
          <Table
            id="funds-differences"
            style={{ marginTop: 16 }}
            size="small"
            rowKey="id"
            pagination={false}
            dataSource={data.differences}
            locale={{ emptyText: t("无差异", "No differences") }}
            columns={[
              { title: t("差异类型", "Kind"), dataIndex: "kind", render: (k: string) => kindName(t, k) },
              {
                title: t("渠道", "Channel"),
                dataIndex: "channel",
                render: (c?: string) => channelName(t, c),
              },
              { title: t("流水参考号", "Entry"), dataIndex: "entryRef" },
              { title: t("付款账号", "From account"), dataIndex: "debtorAccount" },
              { title: t("应到（元）", "Expected"), dataIndex: "expectedFen", align: "right", render: money },
              { title: t("实到（元）", "Arrived"), dataIndex: "arrivedFen", align: "right", render: money },
              {
                title: t("状态", "Status"),
                dataIndex: "resolution",
                render: (s: string, d) => (
                  <>
                    {tag(RESOLUTION, s, t)}
                    {d.handledNote && `${d.handledNote}（${d.handledBy}）`}
                  </>
                ),
              },
              {
                title: t("操作", "Action"),
                key: "action",
                render: (_: unknown, d) =>
                  d.resolution === "OPEN" && can("payment.reconcile") ? (
                    <HandleButton
                      source="funds"
                      id={d.id}
                      agency={agency}
                      onDone={reload}
                      trigger={
                        <Button size="small" className="difference-handle">
                          {t("标记已处理", "Mark handled")}
                        </Button>
                      }
                    />
                  ) : null,
              },
            ]}
          />
        </>
      )}
    </ProCard>
  );
}
