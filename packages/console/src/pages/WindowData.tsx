import { ModalForm, ProCard, ProFormSelect, ProFormText } from "@ant-design/pro-components";
import { Button, Input, Popconfirm, Select, Space, Table, Tag } from "antd";
import { useState } from "react";
import { internal, query, yuan } from "../api.ts";
import { type Item, useList, usePoints } from "../data.ts";
import { useT } from "../i18n.tsx";
import { useCan, useSession } from "../session.tsx";
import { useShowError } from "../ui.tsx";

export interface ItemGroup {
  id: string;
  name: string;
  itemCodes: string[];
  items: Item[];
  remark: string | null;
  enabled: boolean;
  updatedAt: string;
}

export interface FrequentPayer {
  id: string;
  issuingPointCode: string;
  type: 1 | 2;
  name: string;
  /** Masked in lists (110***********002X); in full only from GET /:id. */
  code: string;
  phone?: string;
  email?: string;
  createdBy: string;
  updatedAt: string;
}

/** The agency's item groups (项目分组), for the 开票 page and this one. */
export function useItemGroups(): [ItemGroup[], () => void] {
  const { agency } = useSession();
  return useList<ItemGroup>(agency ? `/v1/issuance/item-groups${query({ agencyCode: agency })}` : undefined);
}

/**
 * 基础信息 · 项目分组: the agency's income items grouped the way a window charges them (出入境证件 =
 * 护照工本费 + 港澳通行证工本费). Everyone with base data reads them; the ticket manager keeps them
 * (base.itemGroups).
 */
export function ItemGroups() {
  const t = useT();
  const can = useCan();
  const showError = useShowError();
  const { agency } = useSession();
  const [groups, reload] = useItemGroups();
  const [items] = useList<Item>(agency ? `/v1/issuance/items${query({ agencyCode: agency })}` : undefined);
  const keep = can("base.itemGroups");
  const options = items
    .filter((i) => i.enabled)
    .map((i) => ({ value: i.code, label: `${i.code} ${i.name}` }));

  const save = async (v: { name: string; itemCodes: string[]; remark?: string }, group?: ItemGroup) => {
    try {
      const body = { name: v.name, itemCodes: v.itemCodes, ...(v.remark ? { remark: v.remark } : {}) };
      if (group)
        await internal("PUT", `/v1/issuance/item-groups/${group.id}`, { ...body, enabled: group.enabled });
      else await internal("POST", "/v1/issuance/item-groups", { agencyCode: agency, ...body });
      reload();
      return true;
    } catch (e) {
      showError(e);
      return false;
    }
  };
  const form = (group?: ItemGroup) => (
    <ModalForm<{ name: string; itemCodes: string[]; remark?: string }>
      title={group ? t("修改项目分组", "Change the group") : t("新增项目分组", "Add an item group")}
      trigger={
        group ? (
          <Button size="small" id={`group-edit-${group.name}`}>
            {t("修改", "Change")}
          </Button>
        ) : (
          <Button type="primary" id="group-new">
            {t("新增分组", "Add a group")}
          </Button>
        )
      }
      initialValues={
        group ? { name: group.name, itemCodes: group.itemCodes, remark: group.remark ?? "" } : {}
      }
      modalProps={{ destroyOnHidden: true }}
      submitter={{ submitButtonProps: { id: group ? "group-edit-submit" : "group-submit" } }}
      onFinish={(v) => save(v, group)}
    >
      <ProFormText
        name="name"
        label={t("分组名称", "Name")}
        rules={[{ required: true }]}
        fieldProps={{ id: "group-name", maxLength: 50 }}
      />
      <ProFormSelect
        name="itemCodes"
        label={t("收入项目", "Income items")}
        mode="multiple"
        options={options}
        rules={[{ required: true }]}
        fieldProps={{ id: "group-items", optionFilterProp: "label" }}
      />
      <ProFormText
        name="remark"
        label={t("备注", "Remark")}
        fieldProps={{ id: "group-remark", maxLength: 200 }}
      />
    </ModalForm>
  );
  const toggle = async (g: ItemGroup) => {
    try {
      await internal("PUT", `/v1/issuance/item-groups/${g.id}`, {
        name: g.name,
        itemCodes: g.itemCodes,
        ...(g.remark ? { remark: g.remark } : {}),
        enabled: !g.enabled,
      });
      reload();
    } catch (e) {
      showError(e);
    }
  };
  const remove = async (g: ItemGroup) => {
    try {
      await internal("DELETE", `/v1/issuance/item-groups/${g.id}`);
      reload();
    } catch (e) {
      showError(e);
    }
  };
  return (
    <ProCard title={t("项目分组", "Item groups")} extra={keep ? form() : null}>
      <Table<ItemGroup>
        id="item-groups"
        size="small"
        rowKey="id"
        pagination={false}
        dataSource={groups}
        columns={[
          { title: t("分组名称", "Name"), dataIndex: "name" },
          {
            title: t("收入项目", "Items"),
            render: (_, g) =>
              g.items.map((i) => (
                <Tag key={i.code}>
                  {i.code} {i.name}
                  {i.standardFen ? ` ${yuan(i.standardFen)}` : ""}
                </Tag>
              )),
          },
          {
            title: t("合计标准（元）", "Standard total"),
            render: (_, g) => yuan(g.items.reduce((s, i) => s + (i.standardFen ?? 0), 0)),
          },
          { title: t("备注", "Remark"), dataIndex: "remark", render: (v) => v || "—" },
          {
            title: t("状态", "State"),
            dataIndex: "enabled",
            render: (v: boolean) =>
              v ? <Tag color="success">{t("启用", "on")}</Tag> : <Tag>{t("停用", "off")}</Tag>,
          },
          ...(keep
            ? [
                {
                  title: t("操作", "Actions"),
                  render: (_: unknown, g: ItemGroup) => (
                    <Space>
                      {form(g)}
                      <Button size="small" onClick={() => void toggle(g)}>
                        {g.enabled ? t("停用", "Disable") : t("启用", "Enable")}
                      </Button>
                      <Popconfirm
                        title={t("删除此分组？", "Delete this group?")}
                        onConfirm={() => void remove(g)}
                        okButtonProps={{ id: "group-delete-confirm" }}
                      >
                        <Button size="small" danger id={`group-delete-${g.name}`}>
                          {t("删除", "Delete")}
                        </Button>
                      </Popconfirm>
                    </Space>
                  ),
                },
              ]
            : []),
        ]}
      />
    </ProCard>
  );
}

/**
 * 票据开具 · 常用交款人: the payers the window saved, per issuing point, masked (the ID number,
 * phone and e-mail); the 开票 page fills the form from one. Found by exact name or ID number
 * (the platform keeps only keyed hashes of them).
 */
export function FrequentPayers() {
  const t = useT();
  const showError = useShowError();
  const { agency } = useSession();
  const points = usePoints();
  const [point, setPoint] = useState<string>();
  const [search, setSearch] = useState<{ name?: string; code?: string }>({});
  const chosen = point ?? points[0]?.code;
  const [payers, reload] = useList<FrequentPayer>(
    agency && chosen
      ? `/v1/issuance/frequent-payers${query({ agencyCode: agency, issuingPointCode: chosen, ...search, limit: 200 })}`
      : undefined,
  );
  const save = async (v: Record<string, string>, payer?: FrequentPayer) => {
    try {
      const body = {
        type: Number(v.type ?? 1),
        name: v.name?.trim(),
        code: v.code?.trim().toUpperCase(),
        ...(v.phone ? { phone: v.phone.trim() } : {}),
        ...(v.email ? { email: v.email.trim() } : {}),
      };
      if (payer) await internal("PUT", `/v1/issuance/frequent-payers/${payer.id}`, body);
      else
        await internal("POST", "/v1/issuance/frequent-payers", {
          agencyCode: agency,
          issuingPointCode: chosen,
          ...body,
        });
      reload();
      return true;
    } catch (e) {
      showError(e);
      return false;
    }
  };
  const form = (payer?: FrequentPayer) => (
    <ModalForm<Record<string, string>>
      title={payer ? t("修改常用交款人", "Change the payer") : t("新增常用交款人", "Save a payer")}
      trigger={
        payer ? (
          <Button size="small">{t("修改", "Change")}</Button>
        ) : (
          <Button type="primary" id="payer-new" disabled={!chosen}>
            {t("新增", "Add")}
          </Button>
        )
      }
      modalProps={{ destroyOnHidden: true }}
      submitter={{ submitButtonProps: { id: payer ? "fp-edit-submit" : "fp-submit" } }}
      // The full record (the list has it masked) fills the form to change it.
      request={
        payer
          ? async () => {
              const full = await internal<FrequentPayer>("GET", `/v1/issuance/frequent-payers/${payer.id}`);
              return { ...full, type: String(full.type) } as unknown as Record<string, string>;
            }
          : async () => ({ type: "1" })
      }
      onFinish={(v) => save(v, payer)}
    >
      <ProFormSelect
        name="type"
        label={t("类型", "Type")}
        options={[
          { value: "1", label: t("个人（身份证）", "Person (ID card)") },
          { value: "2", label: t("单位（统一社会信用代码）", "Organisation (credit code)") },
        ]}
        fieldProps={{ id: "fp-type" }}
      />
      <ProFormText
        name="name"
        label={t("姓名/名称", "Name")}
        rules={[{ required: true }]}
        fieldProps={{ id: "fp-name" }}
      />
      <ProFormText
        name="code"
        label={t("证件号码", "ID number")}
        rules={[{ required: true }]}
        fieldProps={{ id: "fp-code" }}
      />
      <ProFormText name="phone" label={t("手机", "Phone")} fieldProps={{ id: "fp-phone" }} />
      <ProFormText name="email" label={t("邮箱", "E-mail")} fieldProps={{ id: "fp-email" }} />
    </ModalForm>
  );
  const remove = async (p: FrequentPayer) => {
    try {
      await internal("DELETE", `/v1/issuance/frequent-payers/${p.id}`);
      reload();
    } catch (e) {
      showError(e);
    }
  };
  return (
    <ProCard
      title={t("常用交款人", "Frequent payers")}
      extra={
        <Space>
          <Select
            id="fp-point"
            style={{ width: 180 }}
            value={chosen}
            onChange={setPoint}
            options={points.map((p) => ({ value: p.code, label: `${p.code} ${p.name}` }))}
          />
          <Input.Search
            id="fp-search"
            allowClear
            placeholder={t("姓名或证件号（精确）", "Name or ID number (exact)")}
            onSearch={(v) => {
              const s = v.trim();
              setSearch(!s ? {} : /^[0-9A-Za-z]{15,18}$/.test(s) ? { code: s } : { name: s });
            }}
            style={{ width: 260 }}
          />
          {form()}
        </Space>
      }
    >
      <Table<FrequentPayer>
        id="frequent-payers"
        size="small"
        rowKey="id"
        pagination={{ pageSize: 20 }}
        dataSource={payers}
        columns={[
          { title: t("姓名/名称", "Name"), dataIndex: "name" },
          {
            title: t("证件类型", "ID kind"),
            dataIndex: "type",
            render: (v: number) => (v === 1 ? t("身份证", "ID card") : t("统一社会信用代码", "credit code")),
          },
          { title: t("证件号码", "ID number"), dataIndex: "code" },
          { title: t("手机", "Phone"), dataIndex: "phone", render: (v) => v ?? "—" },
          { title: t("邮箱", "E-mail"), dataIndex: "email", render: (v) => v ?? "—" },
          { title: t("开票点", "Point"), dataIndex: "issuingPointCode" },
          { title: t("保存人", "Saved by"), dataIndex: "createdBy" },
          {
            title: t("操作", "Actions"),
            render: (_, p) => (
              <Space>
                {form(p)}
                <Popconfirm
                  title={t("删除此交款人？", "Delete this payer?")}
                  onConfirm={() => void remove(p)}
                  okButtonProps={{ id: "fp-delete-confirm" }}
                >
                  <Button size="small" danger>
                    {t("删除", "Delete")}
                  </Button>
                </Popconfirm>
              </Space>
            ),
          },
        ]}
      />
    </ProCard>
  );
}
