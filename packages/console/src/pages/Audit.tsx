import { type ProColumns, ProTable } from "@ant-design/pro-components";
import { Button, Tag, Typography } from "antd";
import { useState } from "react";
import { api, query } from "../api.ts";
import { useLang, useT } from "../i18n.tsx";
import { useShowError } from "../ui.tsx";

interface Entry {
  seq: string;
  at: string;
  actor: string;
  address: string;
  action: string;
  subject: string;
  outcome: string;
  before: unknown;
  after: unknown;
  hash: string;
}

/**
 * 日志管理: the audit log (the auditor's alone), newest first and paged by the server, filtered by
 * time, person and action, and exported as CSV (the first 1000 entries the filter selects).
 */
export function Audit() {
  const showError = useShowError();
  const t = useT();
  const { lang } = useLang();
  const [filters, setFilters] = useState<Record<string, string | undefined>>({});
  const columns: ProColumns<Entry>[] = [
    { title: "#", dataIndex: "seq", search: false, width: 70 },
    {
      title: t("时间", "When"),
      dataIndex: "at",
      valueType: "dateTimeRange",
      render: (_, e) => new Date(e.at).toLocaleString(lang === "zh" ? "zh-CN" : "en-GB"),
    },
    { title: t("操作人", "Who"), dataIndex: "actor" },
    { title: t("地址", "From"), dataIndex: "address", search: false },
    {
      title: t("操作", "What"),
      dataIndex: "action",
      render: (_, e) => <Typography.Text code>{e.action}</Typography.Text>,
    },
    { title: t("对象", "Subject"), dataIndex: "subject", search: false, ellipsis: true },
    {
      title: t("结果", "Outcome"),
      dataIndex: "outcome",
      search: false,
      render: (_, e) => <Tag color={/^(ok|2\d\d)$/.test(e.outcome) ? "success" : "error"}>{e.outcome}</Tag>,
    },
    {
      title: t("链哈希（SM3）", "Chain hash (SM3)"),
      dataIndex: "hash",
      search: false,
      ellipsis: true,
      width: 140,
    },
  ];
  return (
    <ProTable<Entry>
      id="audit"
      rowKey="seq"
      headerTitle={t("日志管理", "Audit log")}
      columns={columns}
      options={false}
      pagination={{ defaultPageSize: 20, showSizeChanger: true, pageSizeOptions: [20, 50, 100] }}
      search={{ labelWidth: "auto" }}
      toolBarRender={() => [
        <Button
          key="export"
          href={`/api/console/audit/export${query({ ...filters, limit: 1000 })}`}
          id="audit-export"
        >
          {t("导出 CSV", "Export CSV")}
        </Button>,
      ]}
      expandable={{
        expandedRowRender: (e) => (
          <pre style={{ fontSize: 12, whiteSpace: "pre-wrap", margin: 0 }}>
            {JSON.stringify({ before: e.before, after: e.after }, null, 2)}
          </pre>
        ),
      }}
      request={async (params) => {
        const p = params as Record<string, unknown>;
        const [from, to] = (p.at as [string, string] | undefined) ?? [];
        const iso = (v?: string) => (v ? new Date(v.replace(" ", "T")).toISOString() : undefined);
        const f = {
          from: iso(from),
          to: iso(to),
          actor: (p.actor as string | undefined) || undefined,
          action: (p.action as string | undefined) || undefined,
        };
        setFilters(f);
        // Newest first, one page at a time from the server (the log grows without end).
        const pageSize = params.pageSize ?? 20;
        const offset = ((params.current ?? 1) - 1) * pageSize;
        try {
          const out = await api<{ items: Entry[]; total: number }>(
            "GET",
            `/api/console/audit${query({ ...f, order: "desc", offset, limit: pageSize })}`,
          );
          return { data: out.items, success: true, total: out.total };
        } catch (e) {
          showError(e);
          return { data: [], success: false };
        }
      }}
    />
  );
}
