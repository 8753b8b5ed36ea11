import { ProCard } from "@ant-design/pro-components";
import { Alert, Button, DatePicker, Select, Space, Table } from "antd";
import dayjs from "dayjs";
import { useEffect, useState } from "react";
import { internal, query, yuan } from "../api.ts";
import { businessDay, useList } from "../data.ts";
import { useT } from "../i18n.tsx";
import { useSession } from "../session.tsx";
import { useShowError } from "../ui.tsx";

interface ReportTable {
  title: string;
  columns: Array<{ key: string; title: string; kind: string }>;
  rows: Array<{ type: string; values: Record<string, string | number | null> }>;
  totals: Record<string, string | number | null>;
  notes: string[];
  /** This page of the report; totals are over all `rows` of it. */
  page?: { number: number; size: number; rows: number; pages: number };
}

interface TopicLag {
  topic: string;
  behind: number;
  lastEventAt: string | null;
}

/** The read models' source topics, as a person names them. */
const SOURCES: Record<string, [string, string]> = {
  "piaoju.stock.events": ["库存", "stock"],
  "piaoju.issuance.events": ["开票", "issuance"],
  "piaoju.finance.events": ["财政", "finance"],
  "piaoju.delivery.events": ["交付", "delivery"],
  "piaoju.payment.events": ["缴款", "payment"],
};

const beijing = (iso: string) =>
  new Intl.DateTimeFormat("zh-CN", {
    timeZone: "Asia/Shanghai",
    dateStyle: "short",
    timeStyle: "medium",
  }).format(new Date(iso));

/** How far the read models are behind the events: the newest event applied, per source. */
function LagLine({ lag }: { lag: TopicLag[] | undefined }) {
  const t = useT();
  if (!lag) return null;
  const behind = lag.reduce((n, l) => n + l.behind, 0);
  const parts = lag
    .filter((l) => l.lastEventAt || l.behind > 0)
    .map((l) => {
      const [zh, en] = SOURCES[l.topic] ?? [l.topic, l.topic];
      const at = l.lastEventAt ? beijing(l.lastEventAt) : t("尚无", "none yet");
      return `${t(zh, en)} ${at}${l.behind > 0 ? t(`（待处理 ${l.behind}）`, ` (${l.behind} to apply)`) : ""}`;
    });
  return (
    <Alert
      id="projection-lag"
      type="info"
      showIcon
      style={{ marginBottom: 8 }}
      message={
        `${t("数据更新至", "Data as of")}: ${parts.join("；") || t("尚无事件", "no events yet")}` +
        (behind === 0 ? t("（已同步）", " (up to date)") : "")
      }
    />
  );
}

/** 统计报表: the reporting service's reports over a period, on screen and as xlsx / PDF. */
export function Reports() {
  const showError = useShowError();
  const t = useT();
  const { agency } = useSession();
  const [reports] = useList<{ name: string; title: string; available: boolean }>("/v1/reporting/reports");
  const [report, setReport] = useState<string>();
  const [groupBy, setGroupBy] = useState("none");
  const [range, setRange] = useState<[string, string]>([
    businessDay(new Date(Date.now() - 29 * 86_400_000)),
    businessDay(),
  ]);
  const [table, setTable] = useState<ReportTable>();
  const [lag, setLag] = useState<TopicLag[]>();
  const [page, setPage] = useState({ number: 1, size: 100 });
  const chosen = report ?? reports.find((r) => r.available)?.name;
  const params = (format: string) =>
    query({ agencyCode: agency, from: range[0], to: range[1], groupBy, format });
  const shown =
    chosen && agency
      ? `/v1/reporting/reports/${chosen}${query({
          agencyCode: agency,
          from: range[0],
          to: range[1],
          groupBy,
          format: "json",
          page: page.number,
          pageSize: page.size,
        })}`
      : undefined;
  useEffect(() => {
    if (!shown) return;
    internal<ReportTable>("GET", shown)
      .then(setTable)
      .catch((e) => {
        setTable(undefined);
        showError(e);
      });
    // The lag beside each report shown: what the figures include.
    internal<{ topics: TopicLag[] }>("GET", "/v1/reporting/lag")
      .then((r) => setLag(r.topics))
      .catch(() => setLag(undefined));
  }, [shown, showError]);
  const cell = (kind: string, v: string | number | null) =>
    v === null ? "" : kind === "money" && typeof v === "number" ? yuan(v) : String(v);
  return (
    <ProCard
      title={t("统计报表", "Reports")}
      extra={
        <Space wrap>
          <Select
            id="report"
            style={{ width: 220 }}
            value={chosen}
            onChange={(v) => {
              setReport(v);
              setPage((p) => ({ ...p, number: 1 }));
            }}
            options={reports.filter((r) => r.available).map((r) => ({ value: r.name, label: r.title }))}
          />
          <Select
            style={{ width: 140 }}
            value={groupBy}
            onChange={setGroupBy}
            options={[
              { value: "none", label: t("不分组", "no grouping") },
              { value: "point", label: t("按开票点", "by point") },
              { value: "billKind", label: t("按票种", "by bill kind") },
              { value: "clerk", label: t("按开票员", "by clerk") },
              { value: "item", label: t("按项目", "by item") },
            ]}
          />
          <DatePicker.RangePicker
            value={[dayjs(range[0]), dayjs(range[1])]}
            onChange={(v) =>
              v?.[0] && v[1] && setRange([v[0].format("YYYY-MM-DD"), v[1].format("YYYY-MM-DD")])
            }
          />
          {chosen && (
            <>
              <Button href={`/api/internal/v1/reporting/reports/${chosen}${params("xlsx")}`} id="export-xlsx">
                {t("导出 Excel", "Export xlsx")}
              </Button>
              <Button href={`/api/internal/v1/reporting/reports/${chosen}${params("pdf")}`} id="export-pdf">
                {t("导出 PDF", "Export PDF")}
              </Button>
            </>
          )}
        </Space>
      }
    >
      <LagLine lag={lag} />
      {table?.notes.map((n) => (
        <Alert key={n} type="warning" message={n} style={{ marginBottom: 8 }} />
      ))}
      {table && (
        <Table
          size="small"
          rowKey={(_, i) => String(i)}
          pagination={{
            current: table.page?.number ?? 1,
            pageSize: table.page?.size ?? page.size,
            total: table.page?.rows ?? table.rows.length,
            pageSizeOptions: [50, 100, 200, 500],
            showSizeChanger: true,
            showTotal: (n) => t(`共 ${n} 行，合计为全部行`, `${n} rows; totals are over all rows`),
            onChange: (number, size) => setPage({ number: size === page.size ? number : 1, size }),
          }}
          dataSource={table.rows}
          // The totals (over every row of the report, not only this page) under each page.
          summary={() => (
            <Table.Summary fixed>
              <Table.Summary.Row>
                {table.columns.map((c, i) => (
                  <Table.Summary.Cell
                    key={c.key}
                    index={i}
                    align={c.kind === "money" || c.kind === "count" ? "right" : undefined}
                  >
                    <b>{cell(c.kind, table.totals[c.key] ?? null)}</b>
                  </Table.Summary.Cell>
                ))}
              </Table.Summary.Row>
            </Table.Summary>
          )}
          columns={table.columns.map((c) => ({
            title: c.title,
            align: c.kind === "money" || c.kind === "count" ? ("right" as const) : undefined,
            render: (_: unknown, r: { type: string; values: Record<string, string | number | null> }) => {
              const text = cell(c.kind, r.values[c.key] ?? null);
              return r.type === "detail" ? text : <b>{text}</b>;
            },
          }))}
        />
      )}
    </ProCard>
  );
}
