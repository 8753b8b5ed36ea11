import { setTimeout as sleep } from "node:timers/promises";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { type Faults, faults as faultsSchema } from "../api.ts";
import type { Stats } from "../app/context.ts";

/** The faults in force; the agency listener reads them on every request. */
export class FaultSwitch {
  #faults: Faults = faultsSchema.parse({});
  #onDownChange: (down: Faults["down"]) => Promise<void> = async () => {};

  get current(): Faults {
    return this.#faults;
  }

  /** Called with the new `down` when it changes (the simulator closes or reopens the listener). */
  onDownChange(listener: (down: Faults["down"]) => Promise<void>): void {
    this.#onDownChange = listener;
  }

  async set(next: Faults): Promise<Faults> {
    const before = this.#faults.down;
    this.#faults = next;
    if (before !== next.down) await this.#onDownChange(next.down);
    return next;
  }
}

const lostReply = new WeakSet<FastifyRequest>();
/** Routes whose reply lists (results / items) the duplicate and reorder faults rewrite. */
const LIST_ROUTES = new Set([
  "/fin/v1/supervision/batches",
  "/fin/v1/receipt-status",
  "/fin/v1/supervised-receipts",
]);

function applies(req: FastifyRequest, faults: Faults): boolean {
  const path = req.url.split("?")[0] ?? "";
  if (!path.startsWith("/fin/v1/")) return false;
  return faults.includePublic || !path.startsWith("/fin/v1/public/");
}

function problem(code: string, status: number, detail: string) {
  return {
    type: `https://piaoju.dev/problems/${code.toLowerCase()}`,
    title: "fault injected",
    status,
    detail,
    code,
  };
}

/** Installs the fault hooks on the agency listener. */
export function installFaults(
  app: FastifyInstance,
  faults: FaultSwitch,
  stats: Stats,
  random = Math.random,
): void {
  app.addHook("onRequest", async (req, reply) => {
    const f = faults.current;
    if (!applies(req, f)) return;
    if (f.latencyMs > 0 || f.jitterMs > 0) await sleep(f.latencyMs + Math.floor(random() * (f.jitterMs + 1)));
    if (f.down === "unavailable") {
      stats.faultUnavailable++;
      return reply
        .status(503)
        .type("application/problem+json")
        .send(problem("FINANCE_DOWN", 503, "finance is down"));
    }
    if (f.errorRate > 0 && random() < f.errorRate) {
      stats.faultErrors++;
      return reply
        .status(500)
        .type("application/problem+json")
        .send(problem("FAULT_INJECTED", 500, "injected error"));
    }
    if (f.lostReplyRate > 0 && random() < f.lostReplyRate) lostReply.add(req);
  });

  app.addHook("onSend", async (req, reply, payload) => {
    if (lostReply.has(req)) {
      stats.faultLostReplies++;
      reply.status(503).type("application/problem+json");
      return JSON.stringify(problem("REPLY_LOST", 503, "the request was processed but its reply was lost"));
    }
    const f = faults.current;
    if (!(f.duplicateReplies || f.reorderReplies) || !applies(req, f) || reply.statusCode !== 200)
      return payload;
    if (!LIST_ROUTES.has(req.routeOptions.url ?? "") || typeof payload !== "string") return payload;
    const body = JSON.parse(payload) as Record<string, unknown>;
    for (const key of ["results", "items"]) {
      const list = body[key];
      if (!Array.isArray(list)) continue;
      let rewritten = f.duplicateReplies ? list.flatMap((entry) => [entry, entry]) : [...list];
      if (f.reorderReplies) rewritten = shuffle(rewritten, random);
      body[key] = rewritten;
    }
    return JSON.stringify(body);
  });
}

function shuffle<T>(list: T[], random: () => number): T[] {
  for (let i = list.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [list[i], list[j]] = [list[j]!, list[i]!];
  }
  return list;
}
