import { ProCard } from "@ant-design/pro-components";
import {
  Button,
  DatePicker,
  Input,
  Segmented,
  Space,
  Statistic,
  Table,
  Tag,
  Tooltip,
  Typography,
} from "antd";
import type { Dayjs } from "dayjs";
import { useCallback, useEffect, useState } from "react";
import { Link } from "react-router-dom";
import { internal, query, yuan } from "../api.ts";
import { useT } from "../i18n.tsx";
import { useSession } from "../session.tsx";
import { useShowError } from "../ui.tsx";

type QueueState = "pending" | "retrying" | "failed";
interface QueueItem {
  receiptId: string;
  billCode: string;
  number: string;
  kind: string;
  issuingPointCode: string;
  totalFen: number;
  issuedAt: string | null;
  state: QueueState;
  itemStatus: string;
  queuedAt: string | null;
  requestId: string | null;
  requestStatus: string | null;
  attempts: number;
  lastError: string | null;
  nextAttemptAt: string | null;
  rejection: { code: string; reason: string; at: string | null } | null;
}
interface QueuePage {
  counts: Record<QueueState, number>;
  total: number;
  page: number;
  pageSize: number;
  items: QueueItem[];
}
interface ArchiveItem {
  contentSm3: string;
  receiptId: string | null;
  billCode: string;
  number: string;
  financeRef: string;
  supervisedAt: string;
  archivedAt: string;
}
interface ArchivePage {
  total: number;
  page: number;
  pageSize: number;
  items: ArchiveItem[];
}

const STATES: Record<QueueState, [string, string, string]> = {
  pending: ["待上报/待监制", "pending", "processing"],
  retrying: ["重试中", "retrying", "warning"],
  failed: ["财政退回", "failed", "error"],
};
const when = (v: string | null) => (v ? new Date(v).toLocaleString("zh-CN") : "—");

/**
 * 对账管理 · 财政交互: what finance-exchange holds for the agency — the upload queue for 监制 (each
 * receipt not yet supervised, with its attempts, last error and next attempt) and the archive of
 * supervised receipts as downloaded from finance, each provable again by its SM3. Sending is the
 * exchange's own: it retries with back-off through outages, and a receipt finance rejected is
 * voided by issuance, not sent again.
 */
export function FinanceExchange() {
  return (
    <Space direction="vertical" style={{ width: "100%" }} size="middle">
      <UploadQueue />
      <Archive />
    </Space>
  );
}

function UploadQueue() {
  const t = useT();
  const showError = useShowError();
  const { agency } = useSession();
  const [state, setState] = useState<QueueState | "all">("all");
  const [page, setPage] = useState(1);
  const [data, setData] = useState<QueuePage>();
  const load = useCallback(async () => {
    try {
      setData(
        await internal<QueuePage>(
          "GET",
          `/v1/finance-exchange/queue${query({
            agencyCode: agency,
            state: state === "all" ? undefined : state,
            page,
            pageSize: 20,
          })}`,
        ),
      );
    } catch (e) {
      showError(e);
    }
  }, [agency, state, page, showError]);
  useEffect(() => {
    void load();
  }, [load]);
  return (
    <ProCard
      title={t("监制上报队列", "Upload queue (supervision)")}
      extra={
        <Space>
          <Segmented
            id="queue-state"
            value={state}
            onChange={(v) => {
              setState(v as QueueState | "all");
              setPage(1);
            }}
            options={[
              { value: "all", label: t("全部", "All") },
              ...(Object.keys(STATES) as QueueState[]).map((s) => ({
                value: s,
                label: t(STATES[s][0], STATES[s][1]),
              })),
            ]}
          />
          <Button onClick={() => void load()} id="queue-reload">
            {t("刷新", "Reload")}
          </Button>
        </Space>
      }
    >
      <Space size="large" style={{ marginBottom: 16 }} id="queue-counts">
        {(Object.keys(STATES) as QueueState[]).map((s) => (
          <Statistic key={s} title={t(STATES[s][0], STATES[s][1])} value={data?.counts[s] ?? 0} />
        ))}
      </Space>
      <Table<QueueItem>
        id="queue"
        size="small"
        rowKey="receiptId"
        dataSource={data?.items ?? []}
        pagination={{
          current: page,
          pageSize: 20,
          total: data?.total ?? 0,
          onChange: setPage,
          showTotal: (n) => t(`共 ${n} 张`, `${n} receipts`),
        }}
        columns={[
          {
            title: t("票号", "Number"),
            render: (_, r) => (
              <Link to={`/receipts/${r.receiptId}`}>
                {r.billCode}-{r.number}
              </Link>
            ),
          },
          { title: t("开票点", "Point"), dataIndex: "issuingPointCode" },
          { title: t("金额（元）", "Amount"), dataIndex: "totalFen", render: (v: number) => yuan(v) },
          {
            title: t("状态", "State"),
            dataIndex: "state",
            render: (s: QueueState) => <Tag color={STATES[s][2]}>{t(STATES[s][0], STATES[s][1])}</Tag>,
          },
          { title: t("尝试次数", "Attempts"), dataIndex: "attempts" },
          {
            title: t("最近错误", "Last error"),
            render: (_, r) => {
              const text = r.rejection ? `${r.rejection.code} ${r.rejection.reason}` : r.lastError;
              return text ? (
                <Tooltip title={text}>
                  <Typography.Text type="danger" ellipsis style={{ maxWidth: 260 }}>
                    {text}
                  </Typography.Text>
                </Tooltip>
              ) : (
                "—"
              );
            },
          },
          {
            title: t("下次尝试", "Next attempt"),
            render: (_, r) => (r.state === "failed" ? "—" : when(r.nextAttemptAt)),
          },
          { title: t("入队时间", "Queued"), dataIndex: "queuedAt", render: when },
        ]}
      />
    </ProCard>
  );
}

function Archive() {
  const t = useT();
  const showError = useShowError();
  const { agency } = useSession();
  const [filters, setFilters] = useState<{ number?: string; from?: string; to?: string }>({});
  const [page, setPage] = useState(1);
  const [data, setData] = useState<ArchivePage>();
  const [proofs, setProofs] = useState<Record<string, { intact: boolean; signaturesValid: boolean }>>({});
  const load = useCallback(async () => {
    try {
      setData(
        await internal<ArchivePage>(
          "GET",
          `/v1/finance-exchange/archive${query({ agencyCode: agency, ...filters, page, pageSize: 20 })}`,
        ),
      );
    } catch (e) {
      showError(e);
    }
  }, [agency, filters, page, showError]);
  useEffect(() => {
    void load();
  }, [load]);
  const prove = async (sm3: string) => {
    try {
      const out = await internal<{ intact: boolean; signaturesValid: boolean }>(
        "GET",
        `/v1/finance-exchange/archive/${sm3}/verification`,
      );
      setProofs((p) => ({ ...p, [sm3]: out }));
    } catch (e) {
      showError(e);
    }
  };
  return (
    <ProCard
      title={t("电子票据归档", "Archive")}
      extra={
        <Space>
          <Input.Search
            id="archive-number"
            allowClear
            placeholder={t("票号（10 位）", "Number (10 digits)")}
            style={{ width: 200 }}
            onSearch={(v) => {
              setFilters((f) => ({ ...f, number: v.trim() || undefined }));
              setPage(1);
            }}
          />
          <DatePicker.RangePicker
            id="archive-days"
            onChange={(range) => {
              const [a, b] = (range ?? []) as [Dayjs | null, Dayjs | null];
              setFilters((f) => ({ ...f, from: a?.format("YYYY-MM-DD"), to: b?.format("YYYY-MM-DD") }));
              setPage(1);
            }}
          />
        </Space>
      }
    >
      <Table<ArchiveItem>
        id="archive"
        size="small"
        rowKey="contentSm3"
        dataSource={data?.items ?? []}
        pagination={{
          current: page,
          pageSize: 20,
          total: data?.total ?? 0,
          onChange: setPage,
          showTotal: (n) => t(`共 ${n} 张`, `${n} receipts`),
        }}
        columns={[
          {
            title: t("票号", "Number"),
            render: (_, r) =>
              r.receiptId ? (
                <Link to={`/receipts/${r.receiptId}`}>
                  {r.billCode}-{r.number}
                </Link>
              ) : (
                `${r.billCode}-${r.number}`
              ),
          },
          { title: t("财政编号", "Finance ref"), dataIndex: "financeRef" },
          { title: t("监制时间", "Supervised"), dataIndex: "supervisedAt", render: when },
          { title: t("归档时间", "Archived"), dataIndex: "archivedAt", render: when },
          {
            title: "SM3",
            dataIndex: "contentSm3",
            render: (v: string) => <Typography.Text code>{v.slice(0, 16)}…</Typography.Text>,
          },
          {
            title: t("核验", "Prove"),
            render: (_, r) => {
              const proof = proofs[r.contentSm3];
              if (proof)
                return proof.intact && proof.signaturesValid ? (
                  <Tag color="success" className="archive-proof">
                    ✓ {t("完整、签名有效", "intact, signatures valid")}
                  </Tag>
                ) : (
                  <Tag color="error" className="archive-proof">
                    ✗ {t("核验未通过", "does not prove")}
                  </Tag>
                );
              return (
                <Button size="small" onClick={() => void prove(r.contentSm3)} className="archive-prove">
                  {t("核验", "Prove")}
                </Button>
              );
            },
          },
        ]}
      />
    </ProCard>
  );
}
