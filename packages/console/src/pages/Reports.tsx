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
  const chosen = report ?? reports.find((r) => r.available)?.name;
  const params = (format: string) =>
    query({ agencyCode: agency, from: range[0], to: range[1], groupBy, format });
  const shown = chosen && agency ? `/v1/reporting/reports/${chosen}${params("json")}` : undefined;
  useEffect(() => {
    if (!shown) return;
    internal<ReportTable>("GET", shown)
      .then(setTable)
      .catch((e) => {
        setTable(undefined);
        showError(e);
      });
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
            onChange={setReport}
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
      {table?.notes.map((n) => (
        <Alert key={n} type="warning" message={n} style={{ marginBottom: 8 }} />
      ))}
      {table && (
        <Table
          size="small"
          rowKey={(_, i) => String(i)}
          pagination={false}
          dataSource={[...table.rows, { type: "total", values: table.totals }]}
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
