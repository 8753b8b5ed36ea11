import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  type ExchangeHarness,
  startExchangeHarness,
  waitFor,
} from "../../../test/support/finance-exchange.ts";

/** How long finance is down; FX_OUTAGE_MS stretches it (e.g. 120000 for two minutes). */
const OUTAGE_MS = Number(process.env.FX_OUTAGE_MS ?? 60_000);
const RECEIPTS = Number(process.env.FX_OUTAGE_RECEIPTS ?? 400);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Finance goes down under load: first connections are refused, then it answers 503. Receipts
 * keep coming. When it is back it loses some replies (processed, answered 503) and lists
 * results twice and out of order. Every receipt must end supervised exactly once.
 */
describe("finance outage under load", () => {
  let h: ExchangeHarness;

  beforeAll(async () => {
    h = await startExchangeHarness({
      transport: "http",
      kafkaBrokers: inject("kafkaBrokers"),
      env: { FINANCE_BATCH_SIZE: "50", FINANCE_MAX_IN_FLIGHT: "4" },
    });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it(
    "queues every receipt durably through the outage and supervises each exactly once after it, without loss",
    async () => {
      const numbers = await h.issueNumbers(RECEIPTS);
      const before = Math.floor(RECEIPTS * 0.25);
      const ids: string[] = await h.submit(numbers.slice(0, before));
      await waitFor(() => ids.every((id) => h.outcomes().has(id)), 60_000, "the receipts before the outage");

      // Outage: half refused connections, half 503 FINANCE_DOWN; receipts keep arriving.
      const outageStart = Date.now();
      await h.sim.setFaults({ down: "refused" });
      const during = numbers.slice(before);
      const chunks = 6;
      const per = Math.ceil(during.length / chunks);
      for (let i = 0; i < chunks; i++) {
        ids.push(...(await h.submit(during.slice(i * per, (i + 1) * per))));
        await sleep(OUTAGE_MS / 2 / chunks);
      }
      await h.sim.setFaults({ down: "unavailable" });
      await sleep(Math.max(0, outageStart + OUTAGE_MS - Date.now()));
      const doneDuringOutage = h.outcomes().size;
      const status = await h.test.call("GET", "/v1/finance-exchange/status");

      // Back, but unreliable: a fifth of the replies lost after processing, results doubled and shuffled.
      await h.sim.setFaults({ lostReplyRate: 0.2, duplicateReplies: true, reorderReplies: true });
      const backAt = Date.now();
      const outageMs = backAt - outageStart;
      await waitFor(
        () => {
          const o = h.outcomes();
          return ids.every((id) => o.has(id));
        },
        90_000,
        "every receipt to be decided",
      );
      const catchUpMs = Date.now() - backAt;
      await h.sim.clearFaults();
      await sleep(2_000); // late duplicates would show up here

      const outcomes = h.outcomes();
      const losses = ids.filter((id) => !outcomes.has(id)).length;
      const duplicates = [...outcomes.values()].reduce(
        (n, o) => n + Math.max(0, o.supervised + o.rejected - 1),
        0,
      );
      const rejected = [...outcomes.values()].filter((o) => o.rejected > 0).length;
      const stats = (await h.sim.admin.stats()) as {
        supervised: number;
        resubmissions: number;
        faultsInjected: { lostReplies: number; unavailable: number };
      };
      console.log(
        [
          "finance outage under load:",
          `  receipts                 ${ids.length} (${before} before the outage, ${ids.length - before} during it)`,
          `  outage                   ${(outageMs / 1000).toFixed(1)} s (refused, then 503); decided when finance came back: ${doneDuringOutage} of ${ids.length}`,
          `  queue at the end of it   ${JSON.stringify(status.body.receipts)}`,
          `  time to catch up         ${(catchUpMs / 1000).toFixed(1)} s after finance came back (20% replies lost, results doubled + shuffled)`,
          `  supervised exactly once  ${[...outcomes.values()].filter((o) => o.supervised === 1 && o.rejected === 0).length}`,
          `  duplicates               ${duplicates}`,
          `  losses                   ${losses}`,
          `  rejected                 ${rejected}`,
          `  finance: supervised ${stats.supervised}, resubmissions seen ${stats.resubmissions}, replies lost ${stats.faultsInjected.lostReplies}, 503 while down ${stats.faultsInjected.unavailable}`,
        ].join("\n"),
      );
      expect(losses).toBe(0);
      expect(duplicates).toBe(0);
      expect(rejected).toBe(0);
      expect(stats.supervised).toBe(ids.length);
    },
    OUTAGE_MS + 150_000,
  );
});
