import { ModalForm, ProCard, ProFormSwitch, ProFormText } from "@ant-design/pro-components";
import { Button, Input, Select, Space, Table, Tag, Tooltip } from "antd";
import { useEffect, useState } from "react";
import { Link } from "react-router-dom";
import { internal, query } from "../api.ts";
import { useList } from "../data.ts";
import { useT } from "../i18n.tsx";
import { useCan, useSession } from "../session.tsx";
import { useShowError } from "../ui.tsx";

interface Delivery {
  id: string;
  receiptId: string;
  channel: "EMAIL" | "SMS" | "WEBHOOK";
  topic: string;
  status: "PENDING" | "DELIVERED" | "PARKED";
  attempts: number;
  nextAttemptAt: string | null;
  lastError: string | null;
  deliveredAt: string | null;
}
interface Channels {
  agencyCode: string;
  channels: Array<{ channel: string; authorized: boolean; available: boolean }>;
  webhookUrl: string | null;
  updatedAt: string | null;
  updatedBy: string | null;
}

const STATUS: Record<string, [string, string, string]> = {
  PENDING: ["待投递", "pending", "processing"],
  DELIVERED: ["已送达", "delivered", "success"],
  PARKED: ["投递失败", "failed", "error"],
};
const CHANNEL: Record<string, [string, string]> = {
  EMAIL: ["电子邮件", "email"],
  SMS: ["短信", "SMS"],
  WEBHOOK: ["业务系统推送", "webhook"],
};

/**
 * 交付管理: what went to whom on which channel (the payer's email and phone, the agency's system),
 * what failed and why, 重新推送 for whoever may; and the agency's 交付渠道授权.
 */
export function DeliveryPage() {
  const showError = useShowError();
  const t = useT();
  const can = useCan();
  const { agency } = useSession();
  const [status, setStatus] = useState<string | undefined>("PARKED");
  const [channel, setChannel] = useState<string>();
  const [receipt, setReceipt] = useState("");
  const [list, reload] = useList<Delivery>(
    agency ? `/v1/delivery/deliveries${query({ agencyCode: agency, status })}` : undefined,
  );
  const [one, setOne] = useState<Delivery[] | undefined>();
  const rows = (one ?? list).filter((d) => !channel || d.channel === channel);
  const lookUp = async (id: string) => {
    if (!id.trim()) {
      setOne(undefined);
      return;
    }
    try {
      const out = await internal<{ items: Delivery[] }>(
        "GET",
        `/v1/delivery/receipts/${encodeURIComponent(id.trim())}/deliveries`,
      );
      setOne(out.items);
    } catch (e) {
      showError(e);
    }
  };
  const repush = async (d: Delivery) => {
    try {
      await internal("POST", `/v1/delivery/receipts/${d.receiptId}/deliveries/${d.channel}/repush`, {});
      if (one) await lookUp(d.receiptId);
      reload();
    } catch (e) {
      showError(e);
    }
  };
  return (
    <Space direction="vertical" style={{ width: "100%" }} size="middle">
      <ProCard
        title={t("交付记录", "Deliveries")}
        extra={
          <Space wrap>
            <Select
              allowClear
              id="delivery-status"
              placeholder={t("全部状态", "Every status")}
              style={{ width: 140 }}
              value={status}
              onChange={(v) => {
                setOne(undefined);
                setStatus(v);
              }}
              options={Object.entries(STATUS).map(([value, [zh, en]]) => ({ value, label: t(zh, en) }))}
            />
            <Select
              allowClear
              placeholder={t("全部渠道", "Every channel")}
              style={{ width: 150 }}
              value={channel}
              onChange={setChannel}
              options={Object.entries(CHANNEL).map(([value, [zh, en]]) => ({ value, label: t(zh, en) }))}
            />
            <Input.Search
              id="delivery-receipt"
              allowClear
              style={{ width: 340 }}
              placeholder={t("按票据 ID 查询", "By receipt id")}
              value={receipt}
              onChange={(e) => setReceipt(e.target.value)}
              onSearch={(v) => void lookUp(v)}
            />
            <Button onClick={reload} id="delivery-reload">
              {t("刷新", "Refresh")}
            </Button>
          </Space>
        }
      >
        <Table<Delivery>
          id="deliveries"
          size="small"
          rowKey="id"
          dataSource={rows}
          pagination={{ pageSize: 10, showSizeChanger: true }}
          columns={[
            {
              title: t("票据", "Receipt"),
              dataIndex: "receiptId",
              render: (id: string) =>
                can("receipt.read") ? (
                  <Link to={`/receipts/${id}`}>{id.slice(0, 8)}</Link>
                ) : (
                  <code>{id.slice(0, 8)}</code>
                ),
            },
            {
              title: t("渠道（交付给）", "Channel (to)"),
              dataIndex: "channel",
              render: (c: string) => t(...(CHANNEL[c] ?? [c, c])),
            },
            {
              title: t("状态", "Status"),
              dataIndex: "status",
              render: (s: string) => {
                const [zh, en, colour] = STATUS[s] ?? [s, s, "default"];
                return (
                  <Tag color={colour} className="delivery-status">
                    {t(zh, en)}
                  </Tag>
                );
              },
            },
            { title: t("尝试次数", "Tries"), dataIndex: "attempts", align: "right" },
            {
              title: t("送达 / 下次尝试", "Delivered / next try"),
              render: (_, d) =>
                d.deliveredAt
                  ? new Date(d.deliveredAt).toLocaleString()
                  : d.nextAttemptAt
                    ? new Date(d.nextAttemptAt).toLocaleString()
                    : "—",
            },
            {
              title: t("失败原因", "Why it failed"),
              dataIndex: "lastError",
              ellipsis: true,
              render: (v: string | null) => (v ? <Tooltip title={v}>{v}</Tooltip> : null),
            },
            {
              title: t("操作", "Action"),
              render: (_, d) =>
                can("delivery.repush") && d.status !== "PENDING" ? (
                  <Button size="small" className="delivery-repush" onClick={() => void repush(d)}>
                    {t("重新推送", "Re-send")}
                  </Button>
                ) : null,
            },
          ]}
        />
      </ProCard>
      <ChannelAuthorisation />
    </Space>
  );
}

/** 交付渠道授权: the channels the agency lets receipts go out on; changed by whoever holds delivery.channels. */
function ChannelAuthorisation() {
  const showError = useShowError();
  const t = useT();
  const can = useCan();
  const { agency } = useSession();
  const [view, setView] = useState<Channels>();
  const [tick, setTick] = useState(0);
  // biome-ignore lint/correctness/useExhaustiveDependencies: tick reloads after a change
  useEffect(() => {
    if (!agency) return;
    internal<Channels>("GET", `/v1/delivery/agencies/${agency}/channels`)
      .then(setView)
      .catch(() => setView(undefined));
  }, [agency, tick]);
  return (
    <ProCard
      title={t("交付渠道授权", "Delivery channels")}
      extra={
        can("delivery.channels") && view ? (
          <ModalForm<{ email: boolean; sms: boolean; webhookUrl?: string; webhookSecret?: string }>
            title={t("设置交付渠道", "Set the channels")}
            trigger={<Button id="channels-edit">{t("修改授权", "Change")}</Button>}
            initialValues={{
              email: view.channels.find((c) => c.channel === "EMAIL")?.authorized ?? false,
              sms: view.channels.find((c) => c.channel === "SMS")?.authorized ?? false,
              webhookUrl: view.webhookUrl ?? undefined,
            }}
            modalProps={{ destroyOnHidden: true }}
            submitter={{ submitButtonProps: { id: "channels-submit" } }}
            onFinish={async (v) => {
              try {
                await internal("PUT", `/v1/delivery/agencies/${agency}/channels`, {
                  email: v.email,
                  sms: v.sms,
                  webhook: v.webhookUrl ? { url: v.webhookUrl, secret: v.webhookSecret ?? "" } : null,
                });
                setTick((n) => n + 1);
                return true;
              } catch (e) {
                showError(e);
                return false;
              }
            }}
          >
            <ProFormSwitch name="email" label={t("电子邮件", "Email")} />
            <ProFormSwitch name="sms" label={t("短信", "SMS")} />
            <ProFormText
              name="webhookUrl"
              label={t("业务系统推送地址", "Webhook URL")}
              fieldProps={{ id: "channels-webhook-url" }}
            />
            <ProFormText.Password
              name="webhookSecret"
              fieldProps={{ id: "channels-webhook-secret" }}
              label={t("推送签名密钥（至少 32 位）", "Webhook secret (32+ characters)")}
            />
          </ModalForm>
        ) : null
      }
    >
      <Table
        id="channels"
        size="small"
        pagination={false}
        rowKey="channel"
        dataSource={view?.channels ?? []}
        columns={[
          {
            title: t("渠道", "Channel"),
            dataIndex: "channel",
            render: (c: string) => t(...(CHANNEL[c] ?? [c, c])),
          },
          {
            title: t("单位授权", "Authorised"),
            dataIndex: "authorized",
            render: (v: boolean) =>
              v ? <Tag color="success">{t("已授权", "yes")}</Tag> : <Tag>{t("未授权", "no")}</Tag>,
          },
          {
            title: t("平台可用", "Available"),
            dataIndex: "available",
            render: (v: boolean) => (v ? t("可用", "yes") : t("未配置", "not set up")),
          },
        ]}
        footer={() =>
          view?.updatedAt
            ? `${t("最近修改", "Last changed")} ${new Date(view.updatedAt).toLocaleString()} · ${view.updatedBy ?? ""}`
            : null
        }
      />
    </ProCard>
  );
}
