import { DeleteOutlined, PlusOutlined } from "@ant-design/icons";
import { ProCard } from "@ant-design/pro-components";
import {
  App,
  Button,
  Col,
  Divider,
  Form,
  Input,
  InputNumber,
  type InputRef,
  Result,
  Row,
  Select,
  Space,
  Statistic,
  Tag,
  Typography,
} from "antd";
import { useEffect, useMemo, useRef, useState } from "react";
import { Link } from "react-router-dom";
import { internal, query, yuan } from "../api.ts";
import { type BillKind, type Item, useList, usePoints } from "../data.ts";
import { useT } from "../i18n.tsx";
import { useSession } from "../session.tsx";
import { useShowError } from "../ui.tsx";
import { type FrequentPayer, useItemGroups } from "./WindowData.tsx";

interface Payer {
  type: 1 | 2;
  name: string;
  code: string;
  phone?: string;
  email?: string;
}
interface Line {
  itemCode?: string;
  quantity?: number;
  amountYuan?: number;
}
interface Values {
  issuingPointCode: string;
  billCode: string;
  payer: Payer;
  lines: Line[];
  payMode?: string;
  remark?: string;
}

const serial = (point: string) =>
  `ONL-${point}-${new Date().toISOString().replace(/\D/g, "").slice(0, 14)}-${Math.random().toString(36).slice(2, 6)}`.toUpperCase();

/**
 * 在线开具 at the window, for the keyboard: the payer's name has the focus, Tab walks the form,
 * Enter issues; the amount follows the item's standard × quantity; a frequent payer (常用交款人,
 * kept by issuance per issuing point) fills the payer; an item group (项目分组) fills the lines.
 */
export function Issue() {
  const showError = useShowError();
  const t = useT();
  const { agency, me } = useSession();
  const [form] = Form.useForm<Values>();
  const points = usePoints();
  const [items] = useList<Item>(`/v1/issuance/items${query({ agencyCode: agency })}`);
  const [kinds] = useList<BillKind>(`/v1/stock/bill-kinds${query({ agencyCode: agency })}`);
  const [issued, setIssued] = useState<{ id: string; billCode: string; number: string; status: string }>();
  const [busy, setBusy] = useState(false);
  const [bizSerialNo, setBizSerialNo] = useState<string>();
  const firstField = useRef<InputRef>(null);
  const point = Form.useWatch("issuingPointCode", form);
  const lines = Form.useWatch("lines", form) as Line[] | undefined;
  const total = useMemo(
    () => (lines ?? []).reduce((s, l) => s + Math.round((l?.amountYuan ?? 0) * 100), 0),
    [lines],
  );
  const enabledItems = items.filter((i) => i.enabled);
  const { message } = App.useApp();
  const [groups] = useItemGroups();
  const [frequent, reloadFrequent] = useList<FrequentPayer>(
    point
      ? `/v1/issuance/frequent-payers${query({ agencyCode: agency, issuingPointCode: point, limit: 200 })}`
      : undefined,
  );

  /** A frequent payer in full (the list has them masked) fills the payer. */
  const pickPayer = async (id?: string) => {
    if (!id) return;
    try {
      const p = await internal<FrequentPayer>("GET", `/v1/issuance/frequent-payers/${id}`);
      form.setFieldValue("payer", {
        type: p.type,
        name: p.name,
        code: p.code,
        phone: p.phone ?? "",
        email: p.email ?? "",
      });
      setTimeout(() => document.getElementById("line-0-item")?.focus(), 0);
    } catch (e) {
      showError(e);
    }
  };
  /** An item group's items become the lines, each once at its standard. */
  const pickGroup = (id?: string) => {
    const group = groups.find((g) => g.id === id);
    if (!group) return;
    form.setFieldValue(
      "lines",
      group.items
        .filter((i) => i.enabled)
        .map((i) => ({
          itemCode: i.code,
          quantity: 1,
          ...(i.standardFen ? { amountYuan: (i.standardFen / 100).toFixed(2) } : {}),
        })),
    );
  };
  const savePayer = async () => {
    try {
      const v = await form.validateFields([
        ["payer", "type"],
        ["payer", "name"],
        ["payer", "code"],
        ["issuingPointCode"],
      ]);
      const all = form.getFieldValue("payer") as Payer;
      await internal("POST", "/v1/issuance/frequent-payers", {
        agencyCode: agency,
        issuingPointCode: v.issuingPointCode,
        type: all.type,
        name: all.name.trim(),
        code: all.code.trim(),
        ...(all.phone ? { phone: all.phone.trim() } : {}),
        ...(all.email ? { email: all.email.trim() } : {}),
      });
      reloadFrequent();
      void message.success({
        content: t("已存为常用交款人", "Saved as a frequent payer"),
        className: "fp-saved",
      });
    } catch (e) {
      if (e && typeof e === "object" && "errorFields" in e) return;
      showError(e);
    }
  };

  useEffect(() => {
    if (!form.getFieldValue("issuingPointCode") && points[0])
      form.setFieldValue("issuingPointCode", points[0].code);
  }, [points, form]);
  useEffect(() => {
    if (!form.getFieldValue("billCode") && kinds[0]) form.setFieldValue("billCode", kinds[0].billCode);
  }, [kinds, form]);

  const fillAmount = (index: number) => {
    const line = form.getFieldValue(["lines", index]) as Line;
    const item = items.find((i) => i.code === line?.itemCode);
    if (item?.standardFen) {
      form.setFieldValue(
        ["lines", index, "amountYuan"],
        ((item.standardFen * (line.quantity ?? 1)) / 100).toFixed(2),
      );
    }
  };

  const submit = async (v: Values) => {
    setBusy(true);
    // One serial per receipt being made: a retry after a lost answer finds the same receipt.
    const serialNo = bizSerialNo ?? serial(v.issuingPointCode);
    setBizSerialNo(serialNo);
    try {
      const out = await internal<{ id: string; billCode: string; number: string; status: string }>(
        "POST",
        "/v1/receipts",
        {
          agencyCode: agency,
          issuingPointCode: v.issuingPointCode,
          billCode: v.billCode,
          bizSerialNo: serialNo,
          payer: {
            type: v.payer.type,
            name: v.payer.name.trim(),
            code: v.payer.code.trim(),
            ...(v.payer.phone ? { phone: v.payer.phone.trim() } : {}),
            ...(v.payer.email ? { email: v.payer.email.trim() } : {}),
          },
          items: v.lines.map((l) => ({
            itemCode: l.itemCode,
            quantity: String(l.quantity ?? 1),
            amountFen: Math.round(Number(l.amountYuan ?? 0) * 100),
          })),
          totalFen: total,
          ...(v.payMode ? { payMode: v.payMode } : {}),
          ...(v.remark ? { remark: v.remark } : {}),
          handlingPerson: me.displayName,
        },
      );
      setIssued(out);
      setBizSerialNo(undefined);
    } catch (e) {
      showError(e);
    } finally {
      setBusy(false);
    }
  };

  const next = () => {
    setIssued(undefined);
    form.resetFields(["payer", "lines", "remark"]);
    setTimeout(() => firstField.current?.focus(), 0);
  };

  if (issued) {
    return (
      <ProCard>
        <Result
          status="success"
          title={t("开具成功", "Issued")}
          subTitle={
            <span id="issued-number">
              {issued.billCode}-{issued.number} · {issued.status}
            </span>
          }
          extra={[
            <Button type="primary" key="next" onClick={next} autoFocus id="issue-next">
              {t("开下一张", "Next receipt")}
            </Button>,
            <Link key="open" to={`/receipts/${issued.id}`} id="issued-open">
              {t("查看票据", "Open the receipt")}
            </Link>,
          ]}
        />
      </ProCard>
    );
  }

  return (
    <ProCard title={t("在线开具", "Issue a receipt")} extra={<Tag>{t("Enter 开具", "Enter issues")}</Tag>}>
      <Form<Values>
        form={form}
        layout="vertical"
        onFinish={submit}
        initialValues={{ payer: { type: 1 }, lines: [{ quantity: 1 }], payMode: "cash" }}
        id="issue-form"
      >
        <Row gutter={16}>
          <Col span={8}>
            <Form.Item
              name="issuingPointCode"
              label={t("开票点", "Issuing point")}
              rules={[{ required: true }]}
            >
              <Select
                id="issuingPointCode"
                options={points.map((p) => ({ value: p.code, label: `${p.code} ${p.name}` }))}
              />
            </Form.Item>
          </Col>
          <Col span={8}>
            <Form.Item name="billCode" label={t("票据种类", "Bill kind")} rules={[{ required: true }]}>
              <Select
                id="billCode"
                options={kinds.map((k) => ({ value: k.billCode, label: `${k.billCode} ${k.name}` }))}
              />
            </Form.Item>
          </Col>
          <Col span={8}>
            <Form.Item label={t("常用交款人", "Frequent payers")}>
              <Select
                id="frequent-payer"
                allowClear
                showSearch
                optionFilterProp="label"
                placeholder={frequent.length ? t("选择以填入", "Pick to fill in") : t("暂无", "None yet")}
                options={frequent.map((p) => ({ value: p.id, label: `${p.name} ${p.code}` }))}
                onChange={(id?: string) => void pickPayer(id)}
              />
            </Form.Item>
          </Col>
        </Row>
        <Divider orientation="left" plain>
          {t("交款人", "Payer")}{" "}
          <Button size="small" type="link" onClick={() => void savePayer()} id="payer-save">
            {t("存为常用交款人", "Save as a frequent payer")}
          </Button>
        </Divider>
        <Row gutter={16}>
          <Col span={4}>
            <Form.Item name={["payer", "type"]} label={t("类型", "Type")}>
              <Select
                id="payer-type"
                options={[
                  { value: 1, label: t("个人", "Person") },
                  { value: 2, label: t("单位", "Organisation") },
                ]}
              />
            </Form.Item>
          </Col>
          <Col span={6}>
            <Form.Item name={["payer", "name"]} label={t("姓名/名称", "Name")} rules={[{ required: true }]}>
              <Input id="payer-name" ref={firstField} autoFocus />
            </Form.Item>
          </Col>
          <Col span={6}>
            <Form.Item
              name={["payer", "code"]}
              label={t("证件号/统一社会信用代码", "ID or credit code")}
              rules={[{ required: true }]}
            >
              <Input id="payer-code" />
            </Form.Item>
          </Col>
          <Col span={4}>
            <Form.Item name={["payer", "phone"]} label={t("手机", "Phone")}>
              <Input id="payer-phone" />
            </Form.Item>
          </Col>
          <Col span={4}>
            <Form.Item name={["payer", "email"]} label={t("邮箱", "E-mail")}>
              <Input id="payer-email" />
            </Form.Item>
          </Col>
        </Row>
        <Divider orientation="left" plain>
          {t("收费项目", "Items")}
        </Divider>
        <Row gutter={16}>
          <Col span={10}>
            <Form.Item label={t("项目分组", "Item group")}>
              <Select
                id="item-group"
                allowClear
                placeholder={
                  groups.length
                    ? t("选择分组填入项目", "Pick a group to fill the items")
                    : t("暂无", "None yet")
                }
                options={groups.filter((g) => g.enabled).map((g) => ({ value: g.id, label: g.name }))}
                onChange={(id?: string) => pickGroup(id)}
              />
            </Form.Item>
          </Col>
        </Row>
        <Form.List name="lines">
          {(fields, { add, remove }) => (
            <>
              {fields.map((field, index) => (
                <Row gutter={16} key={field.key} align="bottom">
                  <Col span={10}>
                    <Form.Item
                      name={[field.name, "itemCode"]}
                      label={index === 0 ? t("项目", "Item") : undefined}
                      rules={[{ required: true }]}
                    >
                      <Select
                        id={`line-${index}-item`}
                        showSearch
                        optionFilterProp="label"
                        options={enabledItems.map((i) => ({
                          value: i.code,
                          label: `${i.code} ${i.name}${i.standardFen ? ` ${yuan(i.standardFen)}/${i.unit}` : ""}`,
                        }))}
                        onChange={() => fillAmount(index)}
                      />
                    </Form.Item>
                  </Col>
                  <Col span={4}>
                    <Form.Item
                      name={[field.name, "quantity"]}
                      label={index === 0 ? t("数量", "Quantity") : undefined}
                    >
                      <InputNumber
                        id={`line-${index}-quantity`}
                        min={1}
                        style={{ width: "100%" }}
                        onChange={() => fillAmount(index)}
                      />
                    </Form.Item>
                  </Col>
                  <Col span={6}>
                    <Form.Item
                      name={[field.name, "amountYuan"]}
                      label={index === 0 ? t("金额（元）", "Amount (yuan)") : undefined}
                      rules={[{ required: true }]}
                    >
                      <InputNumber<number>
                        id={`line-${index}-amount`}
                        min={0.01}
                        step={0.01}
                        precision={2}
                        style={{ width: "100%" }}
                      />
                    </Form.Item>
                  </Col>
                  <Col span={4}>
                    <Form.Item>
                      <Button
                        icon={<DeleteOutlined />}
                        disabled={fields.length === 1}
                        onClick={() => remove(field.name)}
                      />
                    </Form.Item>
                  </Col>
                </Row>
              ))}
              <Button icon={<PlusOutlined />} onClick={() => add({ quantity: 1 })} id="add-line">
                {t("添加项目", "Add an item")}
              </Button>
            </>
          )}
        </Form.List>
        <Divider />
        <Row gutter={16} align="middle">
          <Col span={6}>
            <Form.Item name="payMode" label={t("缴款方式", "Paid by")}>
              <Select
                id="payMode"
                options={[
                  { value: "cash", label: t("现金", "Cash") },
                  { value: "card", label: t("银行卡", "Card") },
                  { value: "wechat", label: t("微信", "WeChat") },
                  { value: "alipay", label: t("支付宝", "Alipay") },
                ]}
              />
            </Form.Item>
          </Col>
          <Col span={10}>
            <Form.Item name="remark" label={t("备注", "Remark")}>
              <Input id="remark" maxLength={200} />
            </Form.Item>
          </Col>
          <Col span={4}>
            <Statistic title={t("合计（元）", "Total (yuan)")} value={yuan(total)} />
          </Col>
          <Col span={4}>
            <Space direction="vertical">
              <Button type="primary" htmlType="submit" size="large" loading={busy} id="issue-submit">
                {t("开具", "Issue")}
              </Button>
              <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                {t("经办人", "Handled by")} {me.displayName}
              </Typography.Text>
            </Space>
          </Col>
        </Row>
      </Form>
    </ProCard>
  );
}
