import type { Database } from "@piaoju/persistence";
import type { Logger } from "@piaoju/runtime";
import { cstDay, previousDay } from "../domain/days.ts";
import { type FinanceExchange, type PumpRound, stableId } from "./exchange.ts";

export interface ScheduleSettings {
  /** How often the pump runs when nothing wakes it. */
  pumpMs: number;
  /** Base data sync per agency; 0 turns it off. */
  baseDataSyncMs: number;
  /** Download of supervised receipts (today and yesterday, CST) for the archive; 0 turns it off. */
  downloadMs: number;
  /** CST hour after which yesterday is reconciled, once a day; -1 turns it off. */
  reconcileHour: number;
  agencies: readonly string[];
}

/**
 * A request id derived from what it asks (and when): replicas that schedule the same job
 * insert the same id, and the database keeps one.
 */
export function stableRequestId(text: string): string {
  return stableId(text);
}

/** The daemon's clockwork: the pump loop, and the scheduled sync, download and reconciliation. */
export class ExchangeSchedule {
  #timers: NodeJS.Timeout[] = [];
  #pumpTimer: NodeJS.Timeout | undefined;
  #stopped = false;
  #running: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly deps: {
      db: Database;
      exchange: FinanceExchange;
      clock: () => Date;
      logger: Logger;
      settings: ScheduleSettings;
      wake: () => void;
    },
  ) {}

  start(): void {
    const s = this.deps.settings;
    this.#schedulePump(0);
    if (s.baseDataSyncMs > 0) this.#every(s.baseDataSyncMs, () => this.#syncBaseData(), true);
    if (s.downloadMs > 0) this.#every(s.downloadMs, () => this.#download(), false);
    if (s.reconcileHour >= 0) this.#every(60_000, () => this.#reconcileYesterday(), true);
  }

  /** Run the pump now (after an intake, or a request queued by a person). */
  kick(): void {
    if (this.#stopped) return;
    this.#schedulePump(0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const t of this.#timers) clearInterval(t);
    if (this.#pumpTimer) clearTimeout(this.#pumpTimer);
    await this.#running.catch(() => {});
  }

  #schedulePump(delayMs: number): void {
    if (this.#pumpTimer) clearTimeout(this.#pumpTimer);
    this.#pumpTimer = setTimeout(() => {
      this.#pumpTimer = undefined;
      const round = this.deps.exchange.pump();
      this.#running = round;
      round
        .then((r) => {
          if (r.answered > 0) this.deps.wake();
          // Work left (a full batch answered, more queued): go again at once. Idle: slow down (an
          // intake or a person's request kicks the pump anyway), so an idle daemon costs little.
          if (!this.#stopped) this.#schedulePump(this.#nextDelay(r));
        })
        .catch((error: unknown) => {
          this.deps.logger.error({ err: error }, "exchange pump failed; retrying");
          if (!this.#stopped) this.#schedulePump(this.deps.settings.pumpMs * 4);
        });
    }, delayMs);
  }

  #nextDelay(r: PumpRound): number {
    const pumpMs = this.deps.settings.pumpMs;
    if (r.batched > 0 || r.answered > 0) return 0;
    if (r.sent === 0 && r.failed === 0) return Math.max(pumpMs, Math.min(2000, pumpMs * 8));
    return pumpMs;
  }

  #every(ms: number, job: () => Promise<void>, now: boolean): void {
    const run = () =>
      job()
        .then(() => this.kick())
        .catch((error: unknown) => this.deps.logger.error({ err: error }, "scheduled exchange job failed"));
    if (now) void run();
    this.#timers.push(setInterval(run, ms));
  }

  async #syncBaseData(): Promise<void> {
    const slot = Math.floor(this.deps.clock().getTime() / this.deps.settings.baseDataSyncMs);
    for (const agencyCode of this.deps.settings.agencies) {
      await this.deps.exchange.request(
        this.deps.db,
        "baseData",
        { agencyCode },
        stableRequestId(`baseData:${agencyCode}:${slot}`),
      );
    }
  }

  async #download(): Promise<void> {
    const now = this.deps.clock();
    const slot = Math.floor(now.getTime() / this.deps.settings.downloadMs);
    const today = cstDay(now);
    for (const agencyCode of this.deps.settings.agencies) {
      for (const day of [previousDay(today), today]) {
        await this.deps.exchange.request(
          this.deps.db,
          "downloadSupervised",
          { agencyCode, day },
          stableRequestId(`download:${agencyCode}:${day}:${slot}`),
        );
      }
    }
  }

  async #reconcileYesterday(): Promise<void> {
    const now = this.deps.clock();
    const cstHour = (now.getUTCHours() + 8) % 24;
    if (cstHour < this.deps.settings.reconcileHour) return;
    const day = previousDay(cstDay(now));
    for (const agencyCode of this.deps.settings.agencies) {
      await this.deps.exchange.request(
        this.deps.db,
        "downloadSupervised",
        { agencyCode, day, reconcile: true },
        stableRequestId(`reconcile:${agencyCode}:${day}`),
      );
    }
  }
}
