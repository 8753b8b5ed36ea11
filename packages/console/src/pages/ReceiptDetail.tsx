import { DownloadOutlined, PrinterOutlined, SafetyCertificateOutlined } from "@ant-design/icons";
import { ProCard, ProDescriptions } from "@ant-design/pro-components";
import { Button, Form, Input, Modal, Space, Spin, Table, Tag, Timeline, Typography } from "antd";
import { useCallback, useEffect, useState } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { internal, yuan } from "../api.ts";
import { useLang, useT } from "../i18n.tsx";
import { useCan, useSession } from "../session.tsx";
import { STATUS_COLOURS, STATUS_NAMES, useShowError } from "../ui.tsx";

interface Receipt {
  id: string;
  agencyCode: string;
  billCode: string;
  number: string;
  checkCode: string;
  status: string;
  kind: "blue" | "red";
  source: string;
  issuingPointCode: string;
  bizSerialNo: string;
  totalFen: number;
  payer: { type: number; code: string; name: string };
  items: Array<{ itemCode: string; quantity: string; amountFen: number }>;
  issuedAt: string;
  documentSm3: string;
  originalReceiptId?: string;
  agencySignature?: { signedAt: string; keyId: string };
  financeSignature?: { supervisedAt: string; financeRef: string };
  reason?: string;
  voidedAt?: string;
  redFlushedAt?: string;
  paper?: { billCode: string; number: string; exchangedAt: string };
  booked?: { at: string; by: string };
  allowedCommands: string[];
  createdBy: string;
}

type Action = "redFlush" | "void" | "book" | "exchangeForPaper" | "returnPaper";
const ACTIONS: Record<
  Action,
  {
    zh: string;
    en: string;
    path: string;
    permission: Parameters<ReturnType<typeof useCan>>[0];
    danger?: boolean;
  }
> = {
  redFlush: { zh: "冲红", en: "Red-flush", path: "red-flush", permission: "receipt.redFlush", danger: true },
  void: { zh: "作废", en: "Void", path: "void", permission: "receipt.void", danger: true },
  book: { zh: "入账", en: "Book", path: "book", permission: "receipt.book" },
  exchangeForPaper: {
    zh: "换开",
    en: "Exchange for paper",
    path: "paper-exchange",
    permission: "receipt.paperExchange",
  },
  returnPaper: {
    zh: "收回",
    en: "Take the paper back",
    path: "paper-return",
    permission: "receipt.paperExchange",
  },
};

/** 票据详情: what it is, its life so far, its PDF, and the actions its state and the person's permissions allow. */
export function ReceiptDetail() {
  const showError = useShowError();
  const t = useT();
  const { lang } = useLang();
  const can = useCan();
  const { me } = useSession();
  const { id } = useParams<{ id: string }>();
  const navigate = useNavigate();
  const [receipt, setReceipt] = useState<Receipt>();
  const [error, setError] = useState<unknown>();
  const [deliveries, setDeliveries] = useState<Array<Record<string, unknown>>>([]);
  const [acting, setActing] = useState<Action>();
  const [form] = Form.useForm();

  const load = useCallback(async () => {
    try {
      setReceipt(await internal<Receipt>("GET", `/v1/receipts/${id}`));
      setError(undefined);
    } catch (e) {
      setError(e);
    }
  }, [id]);
  useEffect(() => {
    void load();
  }, [load]);
  // Signing and supervision take a moment: the page follows the receipt until it is issued.
  useEffect(() => {
    if (!receipt || !["REQUESTED", "AGENCY_SIGNED"].includes(receipt.status)) return;
    const timer = setTimeout(() => void load(), 1500);
    return () => clearTimeout(timer);
  }, [receipt, load]);
  useEffect(() => {
    if (!receipt || !can("delivery.read")) return;
    internal<{ items: Array<Record<string, unknown>> }>(
      "GET",
      `/v1/delivery/receipts/${receipt.id}/deliveries`,
    )
      .then((out) => setDeliveries(out.items))
      .catch(() => setDeliveries([]));
  }, [receipt, can]);

  if (error) {
    return (
      <ProCard>
        <Typography.Text type="danger" id="receipt-error">
          {t("无法查看此票据", "This receipt cannot be shown")}: {String((error as Error).message)}
        </Typography.Text>
      </ProCard>
    );
  }
  if (!receipt) return <Spin />;

  const pdf = `/api/internal/v1/delivery/receipts/${receipt.id}/print`;
  const actions = (receipt.allowedCommands as Action[]).filter(
    (a) => a in ACTIONS && can(ACTIONS[a].permission),
  );
  const events = [
    { at: receipt.issuedAt, zh: "开具申请", en: "Requested", colour: "gray" },
    receipt.agencySignature && {
      at: receipt.agencySignature.signedAt,
      zh: "单位签名",
      en: "Signed by the agency",
      colour: "blue",
    },
    receipt.financeSignature && {
      at: receipt.financeSignature.supervisedAt,
      zh: "财政监制",
      en: "Supervised by finance",
      colour: "green",
    },
    receipt.paper && {
      at: receipt.paper.exchangedAt,
      zh: "换开纸质票据",
      en: "Exchanged for paper",
      colour: "orange",
    },
    receipt.booked && { at: receipt.booked.at, zh: "入账", en: "Booked", colour: "cyan" },
    receipt.redFlushedAt && { at: receipt.redFlushedAt, zh: "冲红", en: "Red-flushed", colour: "red" },
    receipt.voidedAt && { at: receipt.voidedAt, zh: "作废", en: "Voided", colour: "red" },
  ].filter(Boolean) as Array<{ at: string; zh: string; en: string; colour: string }>;
  events.sort((a, b) => a.at.localeCompare(b.at));

  const act = async (values: Record<string, string>) => {
    if (!acting) return;
    const body =
      acting === "redFlush"
        ? { reason: values.reason, handlingPerson: me.displayName }
        : acting === "book"
          ? { bookedBy: values.bookedBy }
          : acting === "exchangeForPaper"
            ? { paperBillCode: values.paperBillCode, paperNumber: values.paperNumber }
            : { reason: values.reason };
    try {
      const out = await internal<Receipt>("POST", `/v1/receipts/${receipt.id}/${ACTIONS[acting].path}`, body);
      setActing(undefined);
      form.resetFields();
      if (acting === "redFlush" && out.id !== receipt.id) navigate(`/receipts/${out.id}`);
      else await load();
    } catch (e) {
      showError(e);
    }
  };

  return (
    <Space direction="vertical" style={{ width: "100%" }} size="middle">
      <ProCard
        title={
          <span id="receipt-title">
            {receipt.billCode}-{receipt.number}{" "}
            <Tag color={STATUS_COLOURS[receipt.status]} id="receipt-status">
              {t(...(STATUS_NAMES[receipt.status] ?? [receipt.status, receipt.status]))}
            </Tag>
            {receipt.kind === "red" && <Tag color="red">{t("红票", "red receipt")}</Tag>}
          </span>
        }
        extra={
          <Space>
            {actions.map((a) => (
              <Button key={a} danger={ACTIONS[a].danger} onClick={() => setActing(a)} id={`action-${a}`}>
                {t(ACTIONS[a].zh, ACTIONS[a].en)}
              </Button>
            ))}
          </Space>
        }
      >
        <ProDescriptions column={3} dataSource={receipt}>
          <ProDescriptions.Item label={t("校验码", "Check code")}>{receipt.checkCode}</ProDescriptions.Item>
          <ProDescriptions.Item label={t("开票点", "Issuing point")}>
            {receipt.issuingPointCode}
          </ProDescriptions.Item>
          <ProDescriptions.Item label={t("来源", "Source")}>
            {receipt.source === "ONLINE" ? t("在线开具", "online") : t("接口开具", "business system")}
          </ProDescriptions.Item>
          <ProDescriptions.Item label={t("交款人", "Payer")}>
            {receipt.payer.name} {receipt.payer.code}
          </ProDescriptions.Item>
          <ProDescriptions.Item label={t("金额（元）", "Amount (yuan)")}>
            <span className="money">{yuan(receipt.totalFen)}</span>
          </ProDescriptions.Item>
          <ProDescriptions.Item label={t("业务流水号", "Serial")}>{receipt.bizSerialNo}</ProDescriptions.Item>
          <ProDescriptions.Item label={t("单位签名", "Agency signature")}>
            {receipt.agencySignature ? `✔ ${receipt.agencySignature.keyId}` : t("待签名", "not yet")}
          </ProDescriptions.Item>
          <ProDescriptions.Item label={t("财政监制", "Finance supervision")}>
            {receipt.financeSignature ? `✔ ${receipt.financeSignature.financeRef}` : t("待监制", "not yet")}
          </ProDescriptions.Item>
          <ProDescriptions.Item label={t("开票人", "Issued by")}>{receipt.createdBy}</ProDescriptions.Item>
          {receipt.originalReceiptId && (
            <ProDescriptions.Item label={t("原票据", "Original")}>
              <Link to={`/receipts/${receipt.originalReceiptId}`}>{t("查看", "open")}</Link>
            </ProDescriptions.Item>
          )}
          {receipt.reason && (
            <ProDescriptions.Item label={t("原因", "Reason")}>{receipt.reason}</ProDescriptions.Item>
          )}
        </ProDescriptions>
      </ProCard>
      <SignatureVerification receiptId={receipt.id} ready={Boolean(receipt.financeSignature)} />
      <ProCard split="vertical">
        <ProCard title={t("生命周期", "Lifecycle")} colSpan="30%">
          <Timeline
            className="receipt-timeline"
            items={events.map((e) => ({
              color: e.colour,
              children: (
                <>
                  <b>{t(e.zh, e.en)}</b>
                  <br />
                  <Typography.Text type="secondary">
                    {new Date(e.at).toLocaleString(lang === "zh" ? "zh-CN" : "en-GB")}
                  </Typography.Text>
                </>
              ),
            }))}
          />
          {can("delivery.read") && (
            <Table
              size="small"
              rowKey={(r) => String(r.channel)}
              pagination={false}
              dataSource={deliveries}
              columns={[
                { title: t("交付渠道", "Channel"), dataIndex: "channel" },
                { title: t("状态", "Status"), dataIndex: "status" },
              ]}
            />
          )}
        </ProCard>
        <ProCard
          title={t("票据 PDF", "The receipt (PDF)")}
          extra={
            <Space>
              <Button icon={<PrinterOutlined />} href={pdf} target="_blank" id="pdf-print">
                {t("打印", "Print")}
              </Button>
              <Button
                icon={<DownloadOutlined />}
                href={pdf}
                download={`${receipt.billCode}-${receipt.number}.pdf`}
                id="pdf-download"
              >
                {t("下载", "Download")}
              </Button>
            </Space>
          }
        >
          <iframe
            title="pdf"
            src={pdf}
            style={{ width: "100%", height: 520, border: "1px solid #eee" }}
            id="pdf-frame"
          />
        </ProCard>
      </ProCard>
      <Modal
        open={acting !== undefined}
        title={acting ? t(ACTIONS[acting].zh, ACTIONS[acting].en) : ""}
        onCancel={() => setActing(undefined)}
        onOk={() => form.submit()}
        okButtonProps={{ id: "action-confirm", danger: acting ? ACTIONS[acting].danger : false }}
        destroyOnHidden
      >
        <Form form={form} layout="vertical" onFinish={act}>
          {(acting === "redFlush" || acting === "void" || acting === "returnPaper") && (
            <Form.Item name="reason" label={t("原因", "Reason")} rules={[{ required: true }]}>
              <Input.TextArea id="action-reason" autoFocus maxLength={200} />
            </Form.Item>
          )}
          {acting === "book" && (
            <Form.Item name="bookedBy" label={t("入账单位", "Booked by")} rules={[{ required: true }]}>
              <Input id="action-booked-by" />
            </Form.Item>
          )}
          {acting === "exchangeForPaper" && (
            <>
              <Form.Item
                name="paperBillCode"
                label={t("纸质票据代码", "Paper bill code")}
                rules={[{ required: true }]}
              >
                <Input />
              </Form.Item>
              <Form.Item
                name="paperNumber"
                label={t("纸质票号", "Paper number")}
                rules={[{ required: true }]}
              >
                <Input />
              </Form.Item>
            </>
          )}
        </Form>
      </Modal>
    </Space>
  );
}

interface ChainLink {
  subject: string;
  issuer: string;
  serialNumber: string;
  notBefore: string;
  notAfter: string;
  sm3: string;
  trusted: boolean;
}
interface SignatureDetail {
  present: boolean;
  valid: boolean;
  signer?: string;
  signedAt?: string;
  reason?: string;
  chain: ChainLink[];
  chained: boolean;
}
interface Verification {
  documentVersion?: string;
  documentSm3: string;
  computedSm3: string;
  documentIntact: boolean;
  agency: SignatureDetail;
  finance: SignatureDetail;
  authentic: boolean;
  trustSource: "published" | "configured";
  verifiedAt: string;
}

/**
 * 签名验证: the server verifies the document as served (1.2.0, both signatures inside
 * <EInvoiceSignature>): its SM3, the agency's and finance's SM2 signatures over Header +
 * EInvoiceData, and each signer's certificate path to what the platform trusts.
 */
function SignatureVerification({ receiptId, ready }: { receiptId: string; ready: boolean }) {
  const t = useT();
  const showError = useShowError();
  const [result, setResult] = useState<Verification>();
  const [busy, setBusy] = useState(false);
  const verify = async () => {
    setBusy(true);
    try {
      setResult(await internal<Verification>("GET", `/v1/delivery/receipts/${receiptId}/verification`));
    } catch (e) {
      showError(e);
    } finally {
      setBusy(false);
    }
  };
  const mark = (ok: boolean, id: string) =>
    ok ? (
      <Tag color="success" id={id}>
        ✓ {t("通过", "valid")}
      </Tag>
    ) : (
      <Tag color="error" id={id}>
        ✗ {t("未通过", "invalid")}
      </Tag>
    );
  const side = (label: string, s: SignatureDetail, id: string) => (
    <ProCard title={label} extra={mark(s.valid && s.chained, id)} bordered size="small">
      <ProDescriptions column={1} size="small">
        <ProDescriptions.Item label={t("签名", "Signature")}>
          {s.present
            ? s.valid
              ? t("验证通过", "verifies")
              : s.reason
            : t("文档中无此签名", "not in the document")}
        </ProDescriptions.Item>
        {s.signer && <ProDescriptions.Item label={t("签名人", "Signer")}>{s.signer}</ProDescriptions.Item>}
        {s.signedAt && (
          <ProDescriptions.Item label={t("签名时间", "Signed at")}>
            {new Date(s.signedAt).toLocaleString("zh-CN")}
          </ProDescriptions.Item>
        )}
        <ProDescriptions.Item label={t("证书链", "Certificate chain")}>
          {s.chained
            ? t("链至受信证书", "chains to a trusted certificate")
            : t("未链至受信证书", "no trusted path")}
        </ProDescriptions.Item>
      </ProDescriptions>
      <Timeline
        className={`chain-${id}`}
        items={s.chain.map((c) => ({
          color: c.trusted ? "green" : "blue",
          children: (
            <>
              <b>{c.subject}</b> {c.trusted && <Tag color="green">{t("受信", "trusted")}</Tag>}
              <br />
              <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                {t("颁发者", "issuer")} {c.issuer} · {t("序列号", "serial")} {c.serialNumber} ·{" "}
                {c.notBefore.slice(0, 10)} – {c.notAfter.slice(0, 10)}
              </Typography.Text>
            </>
          ),
        }))}
      />
    </ProCard>
  );
  return (
    <ProCard
      title={t("签名验证", "Signature verification")}
      extra={
        <Button
          icon={<SafetyCertificateOutlined />}
          onClick={() => void verify()}
          loading={busy}
          disabled={!ready}
          id="verify-signatures"
        >
          {t("验证签名", "Verify signatures")}
        </Button>
      }
    >
      {!result ? (
        <Typography.Text type="secondary">
          {ready
            ? t(
                "服务端按所发文档（含 EInvoiceSignature）验证两个签名及证书链",
                "The server checks both signatures of the served document and their chains",
              )
            : t("监制后可验证", "Verifiable once supervised")}
        </Typography.Text>
      ) : (
        <Space direction="vertical" style={{ width: "100%" }} id="verification-result">
          <ProDescriptions column={2} size="small">
            <ProDescriptions.Item label={t("结论", "Outcome")}>
              {mark(result.authentic, "verify-authentic")}
            </ProDescriptions.Item>
            <ProDescriptions.Item label={t("文档版本", "Document version")}>
              {result.documentVersion ?? "—"}
            </ProDescriptions.Item>
            <ProDescriptions.Item label={t("文档 SM3", "Document SM3")}>
              <Typography.Text code id="verify-sm3">
                {result.computedSm3}
              </Typography.Text>{" "}
              {mark(result.documentIntact, "verify-intact")}
            </ProDescriptions.Item>
            <ProDescriptions.Item label={t("验证时间", "Verified at")}>
              {new Date(result.verifiedAt).toLocaleString("zh-CN")} (
              {result.trustSource === "configured"
                ? t("运维配置的受信证书", "configured trust")
                : t("平台发布的受信证书", "published trust list")}
              )
            </ProDescriptions.Item>
          </ProDescriptions>
          <ProCard gutter={16} ghost>
            {side(t("单位签名", "Agency signature"), result.agency, "verify-agency")}
            {side(t("财政监制签名", "Finance signature"), result.finance, "verify-finance")}
          </ProCard>
        </Space>
      )}
    </ProCard>
  );
}
