import { testIdentity } from "@piaoju/access/testing";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  AGENCY,
  BILL,
  type ExchangeHarness,
  startExchangeHarness,
  waitFor,
} from "../support/finance-exchange.ts";

const cstToday = () => new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(new Date());

interface QueuePage {
  counts: Record<"pending" | "retrying" | "failed", number>;
  total: number;
  items: Array<{
    receiptId: string;
    state: string;
    attempts: number;
    lastError: string | null;
    nextAttemptAt: string | null;
  }>;
}

/**
 * 财政交互 as the console reads it: the agency's upload queue while finance is down (each receipt
 * retrying, with its attempts, last error and next attempt; filtered by state, paged), then the
 * archive once finance is back and the day is downloaded; both for the agency's people only.
 */
describe("finance-exchange's queue and archive lists (console)", () => {
  let h: ExchangeHarness;
  const liaison = testIdentity({ actor: "fl", agency: AGENCY, roles: ["finance-liaison"] });
  const stranger = testIdentity({ actor: "x", agency: "440301", roles: ["finance-liaison"] });
  const clerk = testIdentity({ actor: "c", agency: AGENCY, roles: ["clerk"], issuingPoints: ["WIN-01"] });
  const as = (who: object) => who as Record<string, string>;

  beforeAll(async () => {
    h = await startExchangeHarness({
      transport: "http",
      kafkaBrokers: inject("kafkaBrokers"),
      env: { FINANCE_BATCH_SIZE: "2" },
    });
  }, 120_000);
  afterAll(() => h?.stop());

  it("shows the queue retrying through an outage, then the archive once supervised", async () => {
    const numbers = await h.issueNumbers(3);
    await h.sim.setFaults({ down: "refused" });
    const ids = await h.submit(numbers);
    const retrying = await waitFor(
      async () => {
        const res = await h.test.call(
          "GET",
          `/v1/finance-exchange/queue?agencyCode=${AGENCY}`,
          undefined,
          as(liaison),
        );
        const page = res.body as unknown as QueuePage;
        return page.counts?.retrying === 3 ? page : undefined;
      },
      60_000,
      "every receipt retrying",
    );
    expect(retrying.total).toBe(3);
    expect(retrying.items.map((i) => i.receiptId).sort()).toEqual([...ids].sort());
    for (const item of retrying.items) {
      expect(item.state).toBe("retrying");
      expect(item.attempts).toBeGreaterThanOrEqual(1);
      expect(item.lastError).toBeTruthy();
      expect(item.nextAttemptAt).not.toBeNull();
    }
    // Paged and filtered.
    const paged = await h.test.call(
      "GET",
      `/v1/finance-exchange/queue?agencyCode=${AGENCY}&state=retrying&page=2&pageSize=2`,
      undefined,
      as(liaison),
    );
    expect([
      (paged.body as unknown as QueuePage).total,
      (paged.body as unknown as QueuePage).items.length,
    ]).toEqual([3, 1]);
    const failed = await h.test.call(
      "GET",
      `/v1/finance-exchange/queue?agencyCode=${AGENCY}&state=failed`,
      undefined,
      as(liaison),
    );
    expect((failed.body as unknown as QueuePage).items).toEqual([]);
    // Bad filters name the field; another agency and a clerk are refused.
    const bad = await h.test.call(
      "GET",
      `/v1/finance-exchange/queue?agencyCode=${AGENCY}&state=lost`,
      undefined,
      as(liaison),
    );
    expect([bad.status, bad.body.issues?.[0]?.field]).toEqual([400, "query.state"]);
    const other = await h.test.call(
      "GET",
      `/v1/finance-exchange/queue?agencyCode=${AGENCY}`,
      undefined,
      as(stranger),
    );
    expect(other.status).toBe(403);
    const byClerk = await h.test.call(
      "GET",
      `/v1/finance-exchange/queue?agencyCode=${AGENCY}`,
      undefined,
      as(clerk),
    );
    expect([byClerk.status, byClerk.body.code]).toEqual([403, "PERMISSION_DENIED"]);

    // Finance is back: everything supervised leaves the queue; the day's download fills the archive.
    await h.sim.clearFaults();
    await waitFor(() => ids.every((id) => h.outcomes().get(id)?.supervised === 1), 60_000, "supervision");
    await waitFor(
      async () => {
        const res = await h.test.call(
          "GET",
          `/v1/finance-exchange/queue?agencyCode=${AGENCY}`,
          undefined,
          as(liaison),
        );
        return (res.body as unknown as QueuePage).total === 0 || undefined;
      },
      30_000,
      "an empty queue",
    );
    const asked = await h.test.call(
      "POST",
      "/v1/finance-exchange/reconciliations",
      { agencyCode: AGENCY, day: cstToday() },
      as(liaison),
    );
    expect(asked.status).toBe(202);
    const archive = await waitFor(
      async () => {
        const res = await h.test.call(
          "GET",
          `/v1/finance-exchange/archive?agencyCode=${AGENCY}&billCode=${BILL}&from=${cstToday()}&to=${cstToday()}`,
          undefined,
          as(liaison),
        );
        const body = res.body as unknown as {
          total: number;
          items: Array<{ receiptId: string; contentSm3: string; number: string }>;
        };
        return body.total >= 3 ? body : undefined;
      },
      60_000,
      "the archive",
    );
    expect(ids.every((id) => archive.items.some((i) => i.receiptId === id))).toBe(true);
    const one = archive.items.find((i) => i.receiptId === ids[0])!;
    const byNumber = await h.test.call(
      "GET",
      `/v1/finance-exchange/archive?agencyCode=${AGENCY}&number=${one.number}`,
      undefined,
      as(liaison),
    );
    expect((byNumber.body.items as Array<{ contentSm3: string }>).map((i) => i.contentSm3)).toEqual([
      one.contentSm3,
    ]);
    const proof = await h.test.call(
      "GET",
      `/v1/finance-exchange/archive/${one.contentSm3}/verification`,
      undefined,
      as(liaison),
    );
    expect([proof.body.intact, proof.body.signaturesValid]).toEqual([true, true]);
    const yesterday = await h.test.call(
      "GET",
      `/v1/finance-exchange/archive?agencyCode=${AGENCY}&to=2000-01-01`,
      undefined,
      as(liaison),
    );
    expect(yesterday.body.total).toBe(0);
    const notAgency = await h.test.call(
      "GET",
      `/v1/finance-exchange/archive?agencyCode=${AGENCY}`,
      undefined,
      as(stranger),
    );
    expect(notAgency.status).toBe(403);
  }, 240_000);
});
