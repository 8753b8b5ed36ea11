import { ProCard, StatisticCard } from "@ant-design/pro-components";
import { Alert, Empty, Progress, Table, Tag, Typography } from "antd";
import { useEffect, useState } from "react";
import { Link } from "react-router-dom";
import { internal, query, yuan } from "../api.ts";
import { businessDay, type Hit, searchReceipts } from "../data.ts";
import { useT } from "../i18n.tsx";
import { useCan, useSession } from "../session.tsx";

interface Run {
  issuingPointCode: string;
  billCode: string;
  startNumber: string;
  endNumber: string;
  nextNumber: string;
  remaining: number;
  exhausted: boolean;
}
interface Rule {
  issuingPointCode: string;
  billCode: string;
  threshold: number;
}

/** 工作台: today at a glance, each card only for who may read its data. */
export function Dashboard() {
  const t = useT();
  const can = useCan();
  const { agency, me } = useSession();
  const [today, setToday] = useState<Hit[]>();
  const [waiting, setWaiting] = useState<Hit[]>();
  const [runs, setRuns] = useState<Run[]>();
  const [rules, setRules] = useState<Rule[]>([]);
  const [parked, setParked] = useState<Array<Record<string, unknown>>>();

  useEffect(() => {
    if (!agency) return;
    const day = businessDay();
    if (can("receipt.read")) {
      searchReceipts(agency, me.issuingPoints, { from: day, to: day })
        .then(setToday)
        .catch(() => setToday([]));
      searchReceipts(agency, me.issuingPoints, { status: "REQUESTED,AGENCY_SIGNED" })
        .then(setWaiting)
        .catch(() => setWaiting([]));
    }
    if (can("stock.read")) {
      internal<{ items: Run[] }>("GET", `/v1/issuance/number-runs${query({ agencyCode: agency })}`)
        .then((o) => setRuns(o.items))
        .catch(() => setRuns([]));
      internal<{ items: Rule[] }>("GET", `/v1/stock/distribution-rules${query({ agencyCode: agency })}`)
        .then((o) => setRules(o.items))
        .catch(() => setRules([]));
    }
    if (can("delivery.read")) {
      internal<{ items: Array<Record<string, unknown>> }>(
        "GET",
        `/v1/delivery/deliveries${query({ agencyCode: agency, status: "PARKED" })}`,
      )
        .then((o) => setParked(o.items))
        .catch(() => setParked([]));
    }
  }, [agency, me.issuingPoints, can]);

  if (!agency)
    return (
      <Alert
        type="info"
        message={t("请先在右上角填写机构代码。", "Enter an agency code at the top right first.")}
      />
    );

  // Numbers left per issuing point and bill kind, against the point's 分发 threshold.
  const left = new Map<string, { point: string; bill: string; remaining: number; total: number }>();
  for (const r of runs ?? []) {
    const key = `${r.issuingPointCode}/${r.billCode}`;
    const size = Number(BigInt(r.endNumber) - BigInt(r.startNumber) + 1n);
    const was = left.get(key) ?? { point: r.issuingPointCode, bill: r.billCode, remaining: 0, total: 0 };
    left.set(key, {
      ...was,
      remaining: was.remaining + (r.exhausted ? 0 : r.remaining),
      total: was.total + size,
    });
  }
  const todayFen = (today ?? []).filter((h) => h.kind === "blue").reduce((s, h) => s + h.totalFen, 0);

  return (
    <ProCard direction="column" ghost gutter={[0, 16]}>
      {can("receipt.read") && (
        <StatisticCard.Group direction="row" id="dashboard-stats">
          <StatisticCard
            statistic={{ title: t("今日开票（张）", "Receipts today"), value: today?.length ?? "…" }}
          />
          <StatisticCard
            statistic={{ title: t("今日金额（元）", "Amount today (yuan)"), value: yuan(todayFen) }}
          />
          <StatisticCard
            statistic={{
              title: t("待签名/待监制", "Awaiting signature or supervision"),
              value: waiting?.length ?? "…",
              status: waiting?.length ? "processing" : "default",
            }}
          />
          {can("delivery.read") && (
            <StatisticCard
              statistic={{
                title: t("交付失败", "Failed deliveries"),
                value: parked?.length ?? "…",
                status: parked?.length ? "error" : "success",
              }}
            />
          )}
        </StatisticCard.Group>
      )}
      {can("stock.read") && (
        <ProCard title={t("各开票点可用号段", "Numbers left per issuing point")} id="numbers-left">
          {left.size === 0 ? (
            <Empty description={t("尚无分发的号段", "No numbers distributed yet")} />
          ) : (
            [...left.values()].map((l) => {
              const threshold =
                rules.find((r) => r.issuingPointCode === l.point && r.billCode === l.bill)?.threshold ?? 0;
              const low = l.remaining <= threshold;
              return (
                <div key={`${l.point}/${l.bill}`} style={{ marginBottom: 12 }}>
                  <Typography.Text strong>{l.point}</Typography.Text>{" "}
                  <Typography.Text type="secondary">{l.bill}</Typography.Text>{" "}
                  {low && <Tag color="warning">{t("余量不足", "running low")}</Tag>}
                  <Progress
                    percent={l.total ? Math.round((l.remaining / l.total) * 100) : 0}
                    status={low ? "exception" : "normal"}
                    format={() => `${l.remaining} / ${l.total}`}
                  />
                </div>
              );
            })
          )}
        </ProCard>
      )}
      {can("receipt.read") && (
        <ProCard title={t("待签名或待监制的票据", "Awaiting signature or supervision")}>
          <Table<Hit>
            size="small"
            rowKey="id"
            pagination={{ pageSize: 5 }}
            dataSource={waiting ?? []}
            columns={[
              {
                title: t("票号", "Number"),
                render: (_, r) => (
                  <Link to={`/receipts/${r.id}`}>
                    {r.billCode}-{r.number}
                  </Link>
                ),
              },
              { title: t("状态", "Status"), dataIndex: "status" },
              { title: t("开票点", "Point"), dataIndex: "issuingPointCode" },
              {
                title: t("开具时间", "At"),
                dataIndex: "issuedAt",
                render: (v: string) => new Date(v).toLocaleString(),
              },
            ]}
          />
        </ProCard>
      )}
      {can("delivery.read") && (parked?.length ?? 0) > 0 && (
        <ProCard title={t("交付失败", "Failed deliveries")}>
          <Table
            size="small"
            rowKey={(r) => `${String(r.receiptId)}/${String(r.channel)}`}
            pagination={{ pageSize: 5 }}
            dataSource={parked}
            columns={[
              {
                title: t("票据", "Receipt"),
                dataIndex: "receiptId",
                render: (v: string) => <Link to={`/receipts/${v}`}>{v.slice(0, 8)}</Link>,
              },
              { title: t("渠道", "Channel"), dataIndex: "channel" },
              { title: t("原因", "Why"), dataIndex: "lastError" },
            ]}
          />
        </ProCard>
      )}
    </ProCard>
  );
}
