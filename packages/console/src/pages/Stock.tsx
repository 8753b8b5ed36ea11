import {
  ModalForm,
  ProCard,
  ProForm,
  ProFormDigit,
  ProFormSelect,
  ProFormText,
  ProTable,
} from "@ant-design/pro-components";
import { Button, DatePicker, Select, Space, Table, Tag } from "antd";
import dayjs from "dayjs";
import { useState } from "react";
import { internal, query } from "../api.ts";
import { type BillKind, businessDay, type Point, useList } from "../data.ts";
import { useT } from "../i18n.tsx";
import { useCan, useSession } from "../session.tsx";
import { useShowError } from "../ui.tsx";

interface Application {
  id: string;
  billCode: string;
  quantity: number;
  status: string;
  financeRef: string | null;
  reason: string | null;
  requestedBy: string;
  requestedAt: string;
}
interface Segment {
  id: string;
  billCode: string;
  startNumber: string;
  endNumber: string;
  status: string;
  source?: string;
  receivedAt?: string;
}

const APPLICATION_STATUS: Record<string, [string, string, string]> = {
  REQUESTED: ["已提交", "sent", "processing"],
  APPROVED: ["财政已发放", "issued by finance", "success"],
  REFUSED: ["财政退回", "refused by finance", "error"],
};

/** 票据申领: apply to finance for numbers; the list shows each application's finance status. */
export function Applications() {
  const showError = useShowError();
  const t = useT();
  const { agency } = useSession();
  const [kinds] = useList<BillKind>(`/v1/stock/bill-kinds${query({ agencyCode: agency })}`);
  const [apps, reload] = useList<Application>(
    `/v1/finance-exchange/stock-applications${query({ agencyCode: agency })}`,
  );
  return (
    <Space direction="vertical" style={{ width: "100%" }} size="middle">
      <ProCard title={t("票据申领", "Apply for numbers")}>
        <ProForm<{ billCode: string; quantity: number }>
          layout="inline"
          id="apply-form"
          submitter={{
            searchConfig: { submitText: t("提交申领", "Apply") },
            resetButtonProps: false,
            submitButtonProps: { id: "apply-submit" },
          }}
          onFinish={async (v) => {
            try {
              await internal("POST", "/v1/finance-exchange/stock-applications", { agencyCode: agency, ...v });
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
            width="md"
            rules={[{ required: true }]}
            fieldProps={{ id: "apply-bill" }}
            options={kinds.map((k) => ({ value: k.billCode, label: `${k.billCode} ${k.name}` }))}
          />
          <ProFormDigit
            name="quantity"
            label={t("数量（份）", "Quantity")}
            min={1}
            max={1_000_000}
            rules={[{ required: true }]}
            fieldProps={{ id: "apply-quantity", precision: 0 }}
          />
        </ProForm>
      </ProCard>
      <ProCard
        title={t("申领记录", "Applications")}
        extra={
          <Button onClick={reload} id="apply-reload">
            {t("刷新", "Refresh")}
          </Button>
        }
      >
        <Table<Application>
          id="applications"
          size="small"
          rowKey="id"
          dataSource={apps}
          columns={[
            {
              title: t("申请时间", "At"),
              dataIndex: "requestedAt",
              render: (v: string) => new Date(v).toLocaleString(),
            },
            { title: t("票据种类", "Bill kind"), dataIndex: "billCode" },
            { title: t("数量", "Quantity"), dataIndex: "quantity", align: "right" },
            {
              title: t("财政状态", "Finance status"),
              dataIndex: "status",
              render: (s: string) => {
                const [zh, en, colour] = APPLICATION_STATUS[s] ?? [s, s, "default"];
                return (
                  <Tag color={colour} className="application-status">
                    {t(zh, en)}
                  </Tag>
                );
              },
            },
            { title: t("财政受理号", "Finance ref"), dataIndex: "financeRef" },
            { title: t("申请人", "By"), dataIndex: "requestedBy" },
            { title: t("原因", "Reason"), dataIndex: "reason" },
          ]}
        />
      </ProCard>
    </Space>
  );
}

/** 入库确认: segments finance issued (or registered by hand) wait here until confirmed into stock. */
export function Segments() {
  const showError = useShowError();
  const t = useT();
  const { agency } = useSession();
  const [segments, reload] = useList<Segment>(`/v1/stock/segments${query({ agencyCode: agency })}`);
  const confirm = async (id: string) => {
    try {
      await internal("POST", `/v1/stock/segments/${id}/confirm`, {});
      reload();
    } catch (e) {
      showError(e);
    }
  };
  return (
    <ProCard
      title={t("入库确认", "Receive into stock")}
      extra={
        <Space>
          <Button onClick={reload} id="segments-reload">
            {t("刷新", "Refresh")}
          </Button>
          <ModalForm<{ billCode: string; startNumber: string; endNumber: string }>
            title={t("手工登记号段", "Register a segment by hand")}
            trigger={<Button>{t("手工登记", "Register by hand")}</Button>}
            onFinish={async (v) => {
              try {
                await internal("POST", "/v1/stock/segments", { agencyCode: agency, ...v });
                reload();
                return true;
              } catch (e) {
                showError(e);
                return false;
              }
            }}
          >
            <ProFormText name="billCode" label={t("票据种类", "Bill kind")} rules={[{ required: true }]} />
            <ProFormText
              name="startNumber"
              label={t("起始号", "First number")}
              rules={[{ required: true }]}
            />
            <ProFormText name="endNumber" label={t("终止号", "Last number")} rules={[{ required: true }]} />
          </ModalForm>
        </Space>
      }
    >
      <Table<Segment>
        id="segments"
        size="small"
        rowKey="id"
        dataSource={segments}
        columns={[
          { title: t("票据种类", "Bill kind"), dataIndex: "billCode" },
          { title: t("起始号", "From"), dataIndex: "startNumber" },
          { title: t("终止号", "To"), dataIndex: "endNumber" },
          {
            title: t("状态", "Status"),
            dataIndex: "status",
            render: (s: string) => (
              <Tag color={s === "STOCKED" ? "success" : "warning"}>
                {s === "STOCKED" ? t("已入库", "in stock") : t("待入库", "to confirm")}
              </Tag>
            ),
          },
          {
            title: t("操作", "Action"),
            render: (_, s) =>
              s.status === "RECEIVED" ? (
                <Button
                  type="primary"
                  size="small"
                  onClick={() => void confirm(s.id)}
                  className="segment-confirm"
                >
                  {t("确认入库", "Confirm")}
                </Button>
              ) : null,
          },
        ]}
      />
    </ProCard>
  );
}

/** 领用存台账: per bill kind (and issuing point), what came in, went out and is left, over a period. */
export function Ledger() {
  const showError = useShowError();
  const t = useT();
  const can = useCan();
  const { agency } = useSession();
  const [kinds] = useList<BillKind>(`/v1/stock/bill-kinds${query({ agencyCode: agency })}`);
  const [points] = useList<Point>(`/v1/issuance/issuing-points${query({ agencyCode: agency })}`);
  const [bill, setBill] = useState<string>();
  const [point, setPoint] = useState<string>();
  const [range, setRange] = useState<[string, string]>([
    businessDay(new Date(Date.now() - 29 * 86_400_000)),
    businessDay(),
  ]);
  const billCode = bill ?? kinds[0]?.billCode;
  return (
    <Space direction="vertical" style={{ width: "100%" }} size="middle">
      <ProTable<Record<string, unknown>>
        headerTitle={t("领用存台账", "Stock ledger")}
        search={false}
        options={false}
        rowKey={(r) => JSON.stringify(r)}
        params={{ billCode, point, range }}
        toolBarRender={() => [
          <Select
            key="bill"
            style={{ width: 220 }}
            value={billCode}
            onChange={setBill}
            options={kinds.map((k) => ({ value: k.billCode, label: `${k.billCode} ${k.name}` }))}
          />,
          <Select
            key="point"
            allowClear
            placeholder={t("全部开票点", "Every point")}
            style={{ width: 160 }}
            value={point}
            onChange={setPoint}
            options={points.map((p) => ({ value: p.code, label: p.code }))}
          />,
          <DatePicker.RangePicker
            key="range"
            value={[dayjs(range[0]), dayjs(range[1])]}
            onChange={(v) =>
              v?.[0] && v[1] && setRange([v[0].format("YYYY-MM-DD"), v[1].format("YYYY-MM-DD")])
            }
          />,
        ]}
        request={async () => {
          if (!billCode) return { data: [], success: true };
          try {
            const out = await internal<Record<string, number>>(
              "GET",
              `/v1/stock/ledger${query({ agencyCode: agency, billCode, issuingPointCode: point, from: range[0], to: range[1] })}`,
            );
            return {
              data: [
                { ...out, issuingPointCode: point ?? t("全部（单位库存）", "all (the agency's stock)") },
              ],
              success: true,
            };
          } catch (e) {
            showError(e);
            return { data: [], success: false };
          }
        }}
        columns={LEDGER_COLUMNS.map(([key, zh, en]) => ({ title: t(zh, en), dataIndex: key }))}
      />
      {can("stock.distribute") && <DistributionRules />}
    </Space>
  );
}

const LEDGER_COLUMNS: Array<[string, string, string]> = [
  ["issuingPointCode", "开票点", "Point"],
  ["opening", "期初", "Opening"],
  ["received", "领入", "In"],
  ["used", "使用", "Used"],
  ["voided", "作废", "Voided"],
  ["returned", "退回", "Returned"],
  ["closing", "结存", "Closing"],
];

/** 分发规则: keep an issuing point above a number of receipts, topped up a batch at a time. */
function DistributionRules() {
  const showError = useShowError();
  const t = useT();
  const { agency } = useSession();
  const [rules, reload] = useList<Record<string, unknown>>(
    `/v1/stock/distribution-rules${query({ agencyCode: agency })}`,
  );
  return (
    <ProCard
      title={t("分发规则", "Distribution rules")}
      extra={
        <ModalForm<{ billCode: string; issuingPointCode: string; threshold: number; batchSize: number }>
          title={t("设置分发规则", "Set a rule")}
          trigger={<Button id="rule-new">{t("设置规则", "Set a rule")}</Button>}
          onFinish={async (v) => {
            try {
              await internal(
                "PUT",
                `/v1/stock/distribution-rules/${agency}/${v.billCode}/${v.issuingPointCode}`,
                {
                  threshold: v.threshold,
                  batchSize: v.batchSize,
                },
              );
              reload();
              return true;
            } catch (e) {
              showError(e);
              return false;
            }
          }}
        >
          <ProFormText name="billCode" label={t("票据种类", "Bill kind")} rules={[{ required: true }]} />
          <ProFormText
            name="issuingPointCode"
            label={t("开票点", "Issuing point")}
            rules={[{ required: true }]}
          />
          <ProFormDigit
            name="threshold"
            label={t("低于此数时补充", "Top up below")}
            rules={[{ required: true }]}
          />
          <ProFormDigit name="batchSize" label={t("每次补充", "Batch")} rules={[{ required: true }]} />
        </ModalForm>
      }
    >
      <Table
        size="small"
        rowKey={(r) => `${String(r.billCode)}/${String(r.issuingPointCode)}`}
        dataSource={rules}
        pagination={false}
        columns={[
          { title: t("票据种类", "Bill kind"), dataIndex: "billCode" },
          { title: t("开票点", "Point"), dataIndex: "issuingPointCode" },
          { title: t("补充阈值", "Threshold"), dataIndex: "threshold" },
          { title: t("每批", "Batch"), dataIndex: "batchSize" },
        ]}
      />
    </ProCard>
  );
}
