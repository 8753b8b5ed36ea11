import { type ProColumns, ProTable } from "@ant-design/pro-components";
import { Tag } from "antd";
import { Link } from "react-router-dom";
import { yuan } from "../api.ts";
import { businessDay, type Hit, searchReceipts, usePoints } from "../data.ts";
import { useT } from "../i18n.tsx";
import { useSession } from "../session.tsx";
import { STATUS_COLOURS, STATUS_NAMES, useShowError } from "../ui.tsx";

/** 票据查询: by date, number, payer, issuing point, status and amount, within the person's data scope. */
export function Receipts() {
  const showError = useShowError();
  const t = useT();
  const { agency, me } = useSession();
  const points = usePoints();
  const columns: ProColumns<Hit>[] = [
    {
      title: t("开票日期", "Date"),
      dataIndex: "period",
      valueType: "dateRange",
      hideInTable: true,
      initialValue: [businessDay(new Date(Date.now() - 29 * 86_400_000)), businessDay()],
    },
    {
      title: t("票号", "Number"),
      dataIndex: "number",
      render: (_, r) => (
        <Link to={`/receipts/${r.id}`} className="receipt-link">
          {r.billCode}-{r.number}
        </Link>
      ),
    },
    { title: t("交款人", "Payer"), dataIndex: "payerName" },
    {
      title: t("开票点", "Issuing point"),
      dataIndex: "issuingPointCode",
      valueType: "select",
      fieldProps: { options: points.map((p) => ({ value: p.code, label: `${p.code} ${p.name}` })) },
    },
    {
      title: t("状态", "Status"),
      dataIndex: "status",
      valueType: "select",
      fieldProps: {
        options: Object.entries(STATUS_NAMES).map(([value, [zh, en]]) => ({ value, label: t(zh, en) })),
      },
      render: (_, r) => (
        <Tag color={STATUS_COLOURS[r.status]}>
          {t(...(STATUS_NAMES[r.status] ?? [r.status, r.status]))}
          {r.kind === "red" ? t("（红票）", " (red)") : ""}
        </Tag>
      ),
    },
    {
      title: t("金额（元）", "Amount (yuan)"),
      dataIndex: "totalFen",
      search: false,
      align: "right",
      render: (_, r) => <span className="money">{yuan(r.totalFen)}</span>,
    },
    { title: t("最低金额", "Amount from"), dataIndex: "amountMin", valueType: "money", hideInTable: true },
    { title: t("最高金额", "Amount to"), dataIndex: "amountMax", valueType: "money", hideInTable: true },
    { title: t("项目", "Items"), dataIndex: "items", search: false, ellipsis: true },
    { title: t("业务流水号", "Serial"), dataIndex: "bizSerialNo", search: false },
    {
      title: t("开具时间", "Issued at"),
      dataIndex: "issuedAt",
      valueType: "dateTime",
      search: false,
    },
  ];
  return (
    <ProTable<Hit>
      rowKey="id"
      headerTitle={t("票据查询", "Receipt search")}
      columns={columns}
      search={{ labelWidth: "auto", defaultCollapsed: false }}
      pagination={{ pageSize: 20 }}
      options={false}
      request={async (params) => {
        const p = params as Record<string, unknown>;
        const [from, to] = (p.period as [string, string] | undefined) ?? [];
        const number = typeof p.number === "string" ? p.number.replace(/^\d{8}-/, "").trim() : undefined;
        const fen = (v: unknown) => (v === undefined || v === "" ? undefined : Math.round(Number(v) * 100));
        try {
          const items = await searchReceipts(agency, me.issuingPoints, {
            from: from?.slice(0, 10),
            to: to?.slice(0, 10),
            numberFrom: number || undefined,
            numberTo: number || undefined,
            payerName: (p.payerName as string | undefined) || undefined,
            issuingPointCode: (p.issuingPointCode as string | undefined) || undefined,
            status: (p.status as string | undefined) || undefined,
            amountMinFen: fen(p.amountMin),
            amountMaxFen: fen(p.amountMax),
          });
          return { data: items, success: true, total: items.length };
        } catch (e) {
          showError(e);
          return { data: [], success: false };
        }
      }}
    />
  );
}
