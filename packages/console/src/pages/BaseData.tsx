import { ModalForm, ProCard, ProFormDigit, ProFormText } from "@ant-design/pro-components";
import { Button, Table, Tag } from "antd";
import type { ReactNode } from "react";
import { internal, query, yuan } from "../api.ts";
import { type BillKind, type Item, type Point, useList } from "../data.ts";
import { useT } from "../i18n.tsx";
import { useCan, useSession } from "../session.tsx";
import { useShowError } from "../ui.tsx";

/** 基础信息: bill kinds, issuing points and income items; maintained with base.manage. */
export function BaseData() {
  const showError = useShowError();
  const t = useT();
  const can = useCan();
  const { agency } = useSession();
  const [kinds, reloadKinds] = useList<BillKind>(`/v1/stock/bill-kinds${query({ agencyCode: agency })}`);
  const [points, reloadPoints] = useList<Point>(
    `/v1/issuance/issuing-points${query({ agencyCode: agency })}`,
  );
  const [items, reloadItems] = useList<Item>(`/v1/issuance/items${query({ agencyCode: agency })}`);
  const create = (
    title: string,
    id: string,
    path: string,
    reload: () => void,
    fields: ReactNode,
    shape: (v: Record<string, string | number>) => unknown,
  ) =>
    can("base.manage") ? (
      <ModalForm<Record<string, string | number>>
        title={title}
        trigger={<Button id={id}>{t("新增", "Add")}</Button>}
        onFinish={async (v) => {
          try {
            await internal("POST", path, { agencyCode: agency, ...(shape(v) as object) });
            reload();
            return true;
          } catch (e) {
            showError(e);
            return false;
          }
        }}
      >
        {fields}
      </ModalForm>
    ) : null;
  const enabled = (v: boolean) =>
    v ? <Tag color="success">{t("启用", "on")}</Tag> : <Tag>{t("停用", "off")}</Tag>;
  return (
    <ProCard direction="column" ghost gutter={[0, 16]}>
      <ProCard
        title={t("票据种类", "Bill kinds")}
        extra={create(
          t("登记票据种类", "Register a bill kind"),
          "kind-new",
          "/v1/stock/bill-kinds",
          reloadKinds,
          <>
            <ProFormText name="billCode" label={t("票据代码", "Bill code")} rules={[{ required: true }]} />
            <ProFormText name="name" label={t("名称", "Name")} rules={[{ required: true }]} />
          </>,
          (v) => v,
        )}
      >
        <Table
          size="small"
          rowKey="billCode"
          pagination={false}
          dataSource={kinds}
          columns={[
            { title: t("票据代码", "Bill code"), dataIndex: "billCode" },
            { title: t("名称", "Name"), dataIndex: "name" },
          ]}
        />
      </ProCard>
      <ProCard
        title={t("开票点", "Issuing points")}
        extra={create(
          t("新增开票点", "Add an issuing point"),
          "point-new",
          "/v1/issuance/issuing-points",
          reloadPoints,
          <>
            <ProFormText
              name="code"
              label={t("开票点代码", "Code")}
              rules={[{ required: true }]}
              fieldProps={{ id: "point-code" }}
            />
            <ProFormText
              name="name"
              label={t("名称", "Name")}
              rules={[{ required: true }]}
              fieldProps={{ id: "point-name" }}
            />
          </>,
          (v) => v,
        )}
      >
        <Table
          size="small"
          rowKey="code"
          pagination={false}
          dataSource={points}
          id="points"
          columns={[
            { title: t("代码", "Code"), dataIndex: "code" },
            { title: t("名称", "Name"), dataIndex: "name" },
            { title: t("状态", "State"), dataIndex: "enabled", render: enabled },
          ]}
        />
      </ProCard>
      <ProCard
        title={t("收入项目", "Income items")}
        extra={create(
          t("新增收入项目", "Add an item"),
          "item-new",
          "/v1/issuance/items",
          reloadItems,
          <>
            <ProFormText name="code" label={t("项目编码", "Code")} rules={[{ required: true }]} />
            <ProFormText name="name" label={t("名称", "Name")} rules={[{ required: true }]} />
            <ProFormText name="unit" label={t("单位", "Unit")} rules={[{ required: true }]} />
            <ProFormDigit
              name="standard"
              label={t("收费标准（元）", "Standard (yuan)")}
              fieldProps={{ precision: 2 }}
            />
          </>,
          (v) => ({
            code: v.code,
            name: v.name,
            unit: v.unit,
            standardFen: v.standard ? Math.round(Number(v.standard) * 100) : null,
          }),
        )}
      >
        <Table
          size="small"
          rowKey="code"
          pagination={false}
          dataSource={items}
          columns={[
            { title: t("编码", "Code"), dataIndex: "code" },
            { title: t("名称", "Name"), dataIndex: "name" },
            { title: t("单位", "Unit"), dataIndex: "unit" },
            {
              title: t("标准（元）", "Standard"),
              dataIndex: "standardFen",
              render: (v: number | null) => (v ? yuan(v) : "—"),
            },
            { title: t("状态", "State"), dataIndex: "enabled", render: enabled },
          ]}
        />
      </ProCard>
    </ProCard>
  );
}
