import { ProCard, ProForm, ProFormDateRangePicker, ProFormSelect } from "@ant-design/pro-components";
import { Alert, Button, DatePicker, Descriptions, Empty, Input, Space, Statistic, Table, Tag } from "antd";
import dayjs from "dayjs";
import { useCallback, useEffect, useState } from "react";
import { ApiError, internal, query } from "../api.ts";
import { type BillKind, businessDay, useList } from "../data.ts";
import { useT } from "../i18n.tsx";
import { useCan, useSession } from "../session.tsx";
import { useShowError } from "../ui.tsx";

interface Report {
  id: string;
  day: string;
  createdAt: string;
  summary: {
    issuedHere: number;
    supervisedHere: number;
    rejectedHere: number;
    pendingHere: number;
    supervisedThere: number;
    matched: number;
    differences: number;
  };
  differences: Array<{
    kind: string;
    billCode: string;
    number: string;
    financeRef?: string;
    explanation: string;
  }>;
}

const KINDS: Record<string, [string, string]> = {
  MISSING_AT_FINANCE: ["财政无此票", "missing at finance"],
  UNKNOWN_HERE: ["本地无此票", "unknown here"],
  REJECTED_HERE_SUPERVISED_THERE: ["本地退回、财政已监制", "rejected here, supervised there"],
  DOCUMENT_MISMATCH: ["票面不一致", "document differs"],
  AGENCY_SIGNATURE_MISMATCH: ["单位签名不一致", "agency signature differs"],
  FINANCE_SIGNATURE_MISMATCH: ["财政签名不一致", "finance signature differs"],
  SIGNATURE_INVALID: ["签名验证失败", "signature invalid"],
};
const SUPERVISION: Record<string, [string, string, string]> = {
  QUEUED: ["待上报", "queued", "default"],
  BATCHED: ["已上报待监制", "sent, awaiting supervision", "processing"],
  SUPERVISED: ["财政已监制", "supervised", "success"],
  REJECTED: ["财政退回", "rejected", "error"],
};

/**
 * 对账与财政交互: the day's reconciliation with finance (its figures and each difference, with what
 * to do), asking finance for it again, a receipt's supervision with finance, and 审验 submission.
 */
export function Finance() {
  return (
    <Space direction="vertical" style={{ width: "100%" }} size="middle">
      <DayReconciliation />
      <Supervision />
      <AuditSubmission />
    </Space>
  );
}

function DayReconciliation() {
  const showError = useShowError();
  const t = useT();
  const can = useCan();
  const { agency } = useSession();
  const [day, setDay] = useState(businessDay(new Date(Date.now() - 86_400_000)));
  const [report, setReport] = useState<Report | null>();
  const [asked, setAsked] = useState(false);
  const load = useCallback(async () => {
    try {
      setReport(
        await internal<Report>(
          "GET",
          `/v1/finance-exchange/reconciliations${query({ agencyCode: agency, day })}`,
        ),
      );
    } catch (e) {
      if (e instanceof ApiError && e.code === "REPORT_NOT_READY") setReport(null);
      else showError(e);
    }
  }, [agency, day, showError]);
  useEffect(() => {
    if (agency) void load();
  }, [agency, load]);
  const reconcile = async () => {
    try {
      await internal("POST", "/v1/finance-exchange/reconciliations", { agencyCode: agency, day });
      setAsked(true);
    } catch (e) {
      showError(e);
    }
  };
  return (
    <ProCard
      title={t("与财政日对账", "Day reconciliation with finance")}
      extra={
        <Space>
          <DatePicker
            id="recon-day"
            allowClear={false}
            value={dayjs(day)}
            onChange={(v) => v && setDay(v.format("YYYY-MM-DD"))}
          />
          <Button id="recon-reload" onClick={() => void load()}>
            {t("刷新", "Refresh")}
          </Button>
          {can("finance.reconcile") && (
            <Button type="primary" id="recon-run" onClick={() => void reconcile()}>
              {t("发起对账", "Reconcile")}
            </Button>
          )}
        </Space>
      }
    >
      {asked && (
        <Alert
          type="info"
          showIcon
          closable
          onClose={() => setAsked(false)}
          style={{ marginBottom: 12 }}
          message={t(
            "已向财政请求当日监制数据，稍后刷新查看对账结果。",
            "Finance was asked for the day's supervised receipts; refresh in a moment for the result.",
          )}
        />
      )}
      {report === null && (
        <div id="recon-empty">
          <Empty description={t("该日尚无对账结果", "No reconciliation of that day yet")} />
        </div>
      )}
      {report && (
        <>
          <Space size="large" wrap id="recon-summary">
            <Statistic title={t("本地开具", "Issued here")} value={report.summary.issuedHere} />
            <Statistic title={t("本地已监制", "Supervised here")} value={report.summary.supervisedHere} />
            <Statistic
              title={t("财政已监制", "Supervised at finance")}
              value={report.summary.supervisedThere}
            />
            <Statistic title={t("一致", "Matched")} value={report.summary.matched} />
            <Statistic title={t("待监制", "Pending")} value={report.summary.pendingHere} />
            <Statistic
              title={t("差异", "Differences")}
              value={report.summary.differences}
              valueStyle={{ color: report.summary.differences ? "#c0392b" : "#389e0d" }}
            />
          </Space>
          <Table
            id="recon-differences"
            style={{ marginTop: 16 }}
            size="small"
            rowKey={(d) => `${d.kind}/${d.billCode}/${d.number}`}
            dataSource={report.differences}
            pagination={{ pageSize: 10 }}
            locale={{ emptyText: t("无差异", "No differences") }}
            columns={[
              {
                title: t("差异类型", "Kind"),
                dataIndex: "kind",
                render: (k: string) => <Tag color="error">{t(...(KINDS[k] ?? [k, k]))}</Tag>,
              },
              { title: t("票据种类", "Bill kind"), dataIndex: "billCode" },
              { title: t("票号", "Number"), dataIndex: "number" },
              { title: t("财政受理号", "Finance ref"), dataIndex: "financeRef" },
              { title: t("说明与处理", "What to do"), dataIndex: "explanation" },
            ]}
            footer={() => `${t("对账时间", "Reconciled at")} ${new Date(report.createdAt).toLocaleString()}`}
          />
        </>
      )}
    </ProCard>
  );
}

/** A receipt's exchange with finance: queued, sent, supervised or rejected, with finance's reason. */
function Supervision() {
  const showError = useShowError();
  const t = useT();
  const [item, setItem] = useState<Record<string, unknown>>();
  const lookUp = async (id: string) => {
    setItem(undefined);
    if (!id.trim()) return;
    try {
      setItem(await internal("GET", `/v1/finance-exchange/supervision/${encodeURIComponent(id.trim())}`));
    } catch (e) {
      showError(e);
    }
  };
  const status = String(item?.status ?? "");
  const [zh, en, colour] = SUPERVISION[status] ?? [status, status, "default"];
  return (
    <ProCard title={t("票据监制查询", "A receipt's supervision")}>
      <Input.Search
        id="supervision-receipt"
        style={{ maxWidth: 420 }}
        placeholder={t("票据 ID", "Receipt id")}
        enterButton={t("查询", "Look up")}
        onSearch={(v) => void lookUp(v)}
      />
      {item && (
        <Descriptions id="supervision" size="small" column={2} style={{ marginTop: 12 }} bordered>
          <Descriptions.Item label={t("票号", "Number")}>
            {String(item.bill_code)}-{String(item.number)}
          </Descriptions.Item>
          <Descriptions.Item label={t("状态", "Status")}>
            <Tag color={colour}>{t(zh, en)}</Tag>
          </Descriptions.Item>
          <Descriptions.Item label={t("财政受理号", "Finance ref")}>
            {String(item.finance_ref ?? "—")}
          </Descriptions.Item>
          <Descriptions.Item label={t("退回原因", "Why rejected")}>
            {item.rejection_reason ? `${String(item.rejection_code)} ${String(item.rejection_reason)}` : "—"}
          </Descriptions.Item>
          <Descriptions.Item label={t("上报时间", "Queued")}>
            {item.queued_at ? new Date(String(item.queued_at)).toLocaleString() : "—"}
          </Descriptions.Item>
          <Descriptions.Item label={t("财政答复时间", "Answered")}>
            {item.decided_at ? new Date(String(item.decided_at)).toLocaleString() : "—"}
          </Descriptions.Item>
        </Descriptions>
      )}
    </ProCard>
  );
}

/** 审验: a period's used and voided numbers of a bill kind reported to finance. */
function AuditSubmission() {
  const showError = useShowError();
  const t = useT();
  const can = useCan();
  const { agency } = useSession();
  const [kinds] = useList<BillKind>(
    agency ? `/v1/stock/bill-kinds${query({ agencyCode: agency })}` : undefined,
  );
  const [sent, setSent] = useState<{ reportId: string; counts: { used: number; voided: number } }>();
  const [report, setReport] = useState<Record<string, unknown>>();
  if (!can("finance.audit")) return null;
  return (
    <ProCard title={t("审验报送", "审验 submission")}>
      <ProForm<{ billCode: string; period: [string, string] }>
        layout="inline"
        submitter={{
          searchConfig: { submitText: t("报送审验", "Submit") },
          resetButtonProps: false,
          submitButtonProps: { id: "audit-submit" },
        }}
        onFinish={async (v) => {
          try {
            const out = await internal<{ reportId: string; counts: { used: number; voided: number } }>(
              "POST",
              "/v1/finance-exchange/audit-reports",
              { agencyCode: agency, billCode: v.billCode, periodStart: v.period[0], periodEnd: v.period[1] },
            );
            setSent(out);
            setReport(await internal("GET", `/v1/finance-exchange/audit-reports/${out.reportId}`));
            return true;
          } catch (e) {
            showError(e);
            return false;
          }
        }}
      >
        <ProFormSelect
          name="billCode"
          label={t("票据种类", "Bill kind")}
          width="md"
          rules={[{ required: true }]}
          fieldProps={{ id: "audit-bill" }}
          options={kinds.map((k) => ({ value: k.billCode, label: `${k.billCode} ${k.name}` }))}
        />
        <ProFormDateRangePicker
          name="period"
          label={t("审验期间", "Period")}
          rules={[{ required: true }]}
          fieldProps={{ format: "YYYY-MM-DD", id: "audit-period" }}
          transform={(v: [unknown, unknown]) => ({
            period: v.map((d) => dayjs(d as string).format("YYYY-MM-DD")),
          })}
        />
      </ProForm>
      {sent && (
        <Alert
          id="audit-sent"
          style={{ marginTop: 12 }}
          type="success"
          showIcon
          message={`${t("已报送", "Submitted")}: ${t("已用号段", "used ranges")} ${sent.counts.used}, ${t(
            "作废号段",
            "voided ranges",
          )} ${sent.counts.voided} · ${t("状态", "status")} ${String(report?.status ?? "SUBMITTED")}`}
        />
      )}
    </ProCard>
  );
}
