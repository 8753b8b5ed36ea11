import { type Bus, replayDeadLetters } from "@piaoju/bus";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { authenticateCaller } from "./caller.ts";
import { AppError } from "./errors.ts";
import { parseInput } from "./http.ts";
import type { Logger } from "./logger.ts";

const group = z.object({ group: z.string().regex(/^[\w.-]{1,100}$/, "a consumer group name") });

/**
 * Operators inspect and replay a consumer group's dead letters through the running
 * platform (so the embedded bus, which lives in that process, is reached the same way as
 * Kafka). Replays are safe: consumers dedupe by event id.
 */
export function registerDeadLetterRoutes(
  http: FastifyInstance,
  bus: Bus,
  token: string,
  logger: Logger,
): void {
  const operatorOnly = (caller: ReturnType<typeof authenticateCaller>) => {
    if (caller.kind !== "service") {
      throw new AppError("forbidden", "dead letters span agencies: platform operators only", {
        code: "OPERATORS_ONLY",
      });
    }
  };

  http.get("/v1/admin/dead-letters/:group", async (req) => {
    operatorOnly(authenticateCaller(req, token));
    const { group: name } = parseInput(group, req.params, "params");
    return { group: name, items: await bus.readDeadLetters(name) };
  });

  http.post("/v1/admin/dead-letters/:group/replay", async (req) => {
    const caller = authenticateCaller(req, token);
    operatorOnly(caller);
    const { group: name } = parseInput(group, req.params, "params");
    const { eventIds } = parseInput(
      z.object({ eventIds: z.array(z.uuid()).max(10_000).optional() }),
      req.body,
      "body",
    );
    const wanted = eventIds ? new Set(eventIds) : undefined;
    const replayed = await replayDeadLetters(bus, name, (l) => !wanted || wanted.has(l.envelope.id));
    // The audit trail of an operator's action (the platform itself has no database of its own).
    logger.info(
      {
        audit: true,
        actor: caller.actor,
        action: "dead-letters.replay",
        group: name,
        events: replayed.map((l) => l.envelope.id),
      },
      "dead letters replayed",
    );
    return { group: name, replayed: replayed.length };
  });
}
