import { ModalForm, ProCard, ProFormDigit, ProFormSelect, ProFormText } from "@ant-design/pro-components";
import { Button, Select, Space, Table, Tag } from "antd";
import { useState } from "react";
import { internal, query } from "../api.ts";
import { type BillKind, type Point, useList } from "../data.ts";
import { useT } from "../i18n.tsx";
import { useCan, useSession } from "../session.tsx";
import { useShowError } from "../ui.tsx";

interface Distribution {
  id: string;
  billCode: string;
  issuingPointCode: string;
  startNumber: string;
  endNumber: string;
  count: number;
  distributedAt: string;
  distributedBy: string;
}
interface Removal {
  id: string;
  billCode: string;
  kind: "RETURNED" | "VOIDED";
  startNumber: string;
  endNumber: string;
  count: number;
  reason: string | null;
  removedBy: string;
  removedAt: string;
}
interface WriteOff {
  id: string;
  billCode: string;
  period: string;
  status: string;
  submittedBy: string;
  submittedAt: string;
}

const at = (v: string) => new Date(v).toLocaleString();
const PAGE = { pageSize: 10, showSizeChanger: true } as const;

/** The bill kinds and issuing points of the agency, as select options. */
function useChoices() {
  const { agency } = useSession();
  const [kinds] = useList<BillKind>(`/v1/stock/bill-kinds${query({ agencyCode: agency })}`);
  const [points] = useList<Point>(`/v1/issuance/issuing-points${query({ agencyCode: agency })}`);
  return {
    kinds: kinds.map((k) => ({ value: k.billCode, label: `${k.billCode} ${k.name}` })),
    points: points.map((p) => ({ value: p.code, label: `${p.code} ${p.name}` })),
  };
}

/** 分发: numbers handed from the agency's stock to an issuing point, by rule or by hand (手工分发). */
export function Distributions() {
  const showError = useShowError();
  const t = useT();
  const can = useCan();
  const { agency } = useSession();
  const { kinds, points } = useChoices();
  const [bill, setBill] = useState<string>();
  const [point, setPoint] = useState<string>();
  const [rows, reload] = useList<Distribution>(
    `/v1/stock/distributions${query({ agencyCode: agency, billCode: bill, issuingPointCode: point })}`,
  );
  return (
    <ProCard
      title={t("票据分发", "Distribution")}
      extra={
        <Space>
          <Select
            allowClear
            placeholder={t("全部票据种类", "Every bill kind")}
            style={{ width: 220 }}
            value={bill}
            onChange={setBill}
            options={kinds}
            id="dist-filter-bill"
          />
          <Select
            allowClear
            placeholder={t("全部开票点", "Every point")}
            style={{ width: 180 }}
            value={point}
            onChange={setPoint}
            options={points}
            id="dist-filter-point"
          />
          <Button onClick={reload} id="dist-reload">
            {t("刷新", "Refresh")}
          </Button>
          {can("stock.distribute") && (
            <ModalForm<{ billCode: string; issuingPointCode: string; count: number }>
              title={t("手工分发到开票点", "Distribute to a point by hand")}
              trigger={
                <Button type="primary" id="dist-new">
                  {t("手工分发", "Distribute")}
                </Button>
              }
              modalProps={{ destroyOnHidden: true }}
              submitter={{ submitButtonProps: { id: "dist-submit" } }}
              onFinish={async (v) => {
                try {
                  await internal("POST", "/v1/stock/distributions", { agencyCode: agency, ...v });
                  reload();
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
                options={kinds}
                rules={[{ required: true }]}
                fieldProps={{ id: "dist-bill" }}
              />
              <ProFormSelect
                name="issuingPointCode"
                label={t("开票点", "Issuing point")}
                options={points}
                rules={[{ required: true }]}
                fieldProps={{ id: "dist-point" }}
              />
              <ProFormDigit
                name="count"
                label={t("份数", "Count")}
                min={1}
                max={1_000_000}
                rules={[{ required: true }]}
                fieldProps={{ id: "dist-count", precision: 0 }}
              />
            </ModalForm>
          )}
        </Space>
      }
    >
      <Table<Distribution>
        id="distributions"
        size="small"
        rowKey="id"
        dataSource={[...rows].reverse()}
        pagination={PAGE}
        columns={[
          { title: t("分发时间", "At"), dataIndex: "distributedAt", render: at },
          { title: t("票据种类", "Bill kind"), dataIndex: "billCode" },
          { title: t("开票点", "Point"), dataIndex: "issuingPointCode" },
          { title: t("起始号", "From"), dataIndex: "startNumber" },
          { title: t("终止号", "To"), dataIndex: "endNumber" },
          { title: t("份数", "Count"), dataIndex: "count", align: "right" },
          {
            title: t("分发人", "By"),
            dataIndex: "distributedBy",
            render: (v: string) => (v === "rule" ? t("按规则", "by rule") : v),
          },
        ]}
      />
    </ProCard>
  );
}

/** 申退 (numbers back to finance) and 库存作废 (blank numbers voided unused): both out of the agency's stock. */
export function Removals() {
  const showError = useShowError();
  const t = useT();
  const can = useCan();
  const { agency } = useSession();
  const { kinds } = useChoices();
  const [kind, setKind] = useState<"RETURNED" | "VOIDED">();
  const [rows, reload] = useList<Removal>(`/v1/stock/removals${query({ agencyCode: agency, kind })}`);
  const form = (path: string, withReason: boolean, prefix: string, title: string, button: string) => (
    <ModalForm<{ billCode: string; startNumber: string; endNumber: string; reason?: string }>
      title={title}
      trigger={
        <Button id={`${prefix}-new`} danger={withReason}>
          {button}
        </Button>
      }
      modalProps={{ destroyOnHidden: true }}
      submitter={{ submitButtonProps: { id: `${prefix}-submit` } }}
      onFinish={async (v) => {
        try {
          await internal("POST", path, { agencyCode: agency, ...v });
          reload();
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
        options={kinds}
        rules={[{ required: true }]}
        fieldProps={{ id: `${prefix}-bill` }}
      />
      <ProFormText
        name="startNumber"
        label={t("起始号", "First number")}
        rules={[{ required: true }]}
        fieldProps={{ id: `${prefix}-start` }}
      />
      <ProFormText
        name="endNumber"
        label={t("终止号", "Last number")}
        rules={[{ required: true }]}
        fieldProps={{ id: `${prefix}-end` }}
      />
      {withReason && (
        <ProFormText
          name="reason"
          label={t("作废原因", "Reason")}
          rules={[{ required: true }]}
          fieldProps={{ id: `${prefix}-reason` }}
        />
      )}
    </ModalForm>
  );
  return (
    <ProCard
      title={t("申退与库存作废", "Returns and voided stock")}
      extra={
        <Space>
          <Select
            allowClear
            placeholder={t("全部", "All")}
            style={{ width: 140 }}
            value={kind}
            onChange={setKind}
            id="removal-filter"
            options={[
              { value: "RETURNED", label: t("申退", "returned") },
              { value: "VOIDED", label: t("库存作废", "voided") },
            ]}
          />
          <Button onClick={reload} id="removal-reload">
            {t("刷新", "Refresh")}
          </Button>
          {can("stock.return") &&
            form(
              "/v1/stock/returns",
              false,
              "return",
              t("申退：未分发的号码退回财政", "Return undistributed numbers to finance"),
              t("申退", "Return"),
            )}
          {can("stock.return") &&
            form(
              "/v1/stock/voids",
              true,
              "void",
              t("库存作废：未分发的空白票号作废", "Void blank undistributed numbers"),
              t("库存作废", "Void"),
            )}
        </Space>
      }
    >
      <Table<Removal>
        id="removals"
        size="small"
        rowKey="id"
        dataSource={rows}
        pagination={PAGE}
        columns={[
          { title: t("时间", "At"), dataIndex: "removedAt", render: at },
          {
            title: t("类型", "Kind"),
            dataIndex: "kind",
            render: (k: string) =>
              k === "RETURNED" ? (
                <Tag color="blue">{t("申退", "returned")}</Tag>
              ) : (
                <Tag color="red">{t("库存作废", "voided")}</Tag>
              ),
          },
          { title: t("票据种类", "Bill kind"), dataIndex: "billCode" },
          { title: t("起始号", "From"), dataIndex: "startNumber" },
          { title: t("终止号", "To"), dataIndex: "endNumber" },
          { title: t("份数", "Count"), dataIndex: "count", align: "right" },
          { title: t("原因", "Reason"), dataIndex: "reason" },
          { title: t("经办人", "By"), dataIndex: "removedBy" },
        ]}
      />
    </ProCard>
  );
}

const WRITE_OFF_STATUS: Record<string, [string, string, string]> = {
  SUBMITTED: ["已提交", "submitted", "processing"],
  APPROVED: ["财政已核销", "written off", "success"],
  REFUSED: ["财政退回", "refused", "error"],
};

/** 核销申请: a month's 领用存 submitted to finance for write-off, per bill kind. */
export function WriteOffs() {
  const showError = useShowError();
  const t = useT();
  const can = useCan();
  const { agency } = useSession();
  const { kinds } = useChoices();
  const [bill, setBill] = useState<string>();
  const [rows, reload] = useList<WriteOff>(
    `/v1/stock/write-offs${query({ agencyCode: agency, billCode: bill })}`,
  );
  return (
    <ProCard
      title={t("核销申请", "Write-off")}
      extra={
        <Space>
          <Select
            allowClear
            placeholder={t("全部票据种类", "Every bill kind")}
            style={{ width: 220 }}
            value={bill}
            onChange={setBill}
            options={kinds}
          />
          <Button onClick={reload} id="writeoff-reload">
            {t("刷新", "Refresh")}
          </Button>
          {can("stock.writeOff") && (
            <ModalForm<{ billCode: string; period: string }>
              title={t("提交核销申请", "Request a write-off")}
              trigger={
                <Button type="primary" id="writeoff-new">
                  {t("申请核销", "Request")}
                </Button>
              }
              modalProps={{ destroyOnHidden: true }}
              submitter={{ submitButtonProps: { id: "writeoff-submit" } }}
              onFinish={async (v) => {
                try {
                  await internal("POST", "/v1/stock/write-offs", { agencyCode: agency, ...v });
                  reload();
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
                options={kinds}
                rules={[{ required: true }]}
                fieldProps={{ id: "writeoff-bill" }}
              />
              <ProFormText
                name="period"
                label={t("核销期间（YYYY-MM）", "Month (YYYY-MM)")}
                rules={[{ required: true }]}
                fieldProps={{ id: "writeoff-period" }}
              />
            </ModalForm>
          )}
        </Space>
      }
    >
      <Table<WriteOff>
        id="write-offs"
        size="small"
        rowKey="id"
        dataSource={rows}
        pagination={PAGE}
        columns={[
          { title: t("期间", "Month"), dataIndex: "period" },
          { title: t("票据种类", "Bill kind"), dataIndex: "billCode" },
          {
            title: t("状态", "Status"),
            dataIndex: "status",
            render: (s: string) => {
              const [zh, en, colour] = WRITE_OFF_STATUS[s] ?? [s, s, "default"];
              return (
                <Tag color={colour} className="writeoff-status">
                  {t(zh, en)}
                </Tag>
              );
            },
          },
          { title: t("提交人", "By"), dataIndex: "submittedBy" },
          { title: t("提交时间", "At"), dataIndex: "submittedAt", render: at },
        ]}
      />
    </ProCard>
  );
}
