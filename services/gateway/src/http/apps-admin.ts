import { agencyCode, issuingPointCode, text } from "@piaoju/contracts";
import { AppError, authenticateCaller, parseInput, requireAgency } from "@piaoju/runtime";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { Apps } from "../app/apps.ts";

/** Internal API: a ticket manager registers the business systems of their agency. */
export function registerAppAdminRoutes(http: FastifyInstance, apps: Apps, internalToken: string): void {
  http.post("/v1/gateway/apps", async (req, reply) => {
    const caller = authenticateCaller(req, internalToken);
    const body = parseInput(
      z.object({
        name: text().trim().min(1).max(100),
        agencyCode,
        issuingPoints: z.array(issuingPointCode).min(1).max(500),
      }),
      req.body,
      "body",
    );
    requireAgency(caller, body.agencyCode);
    // The secret is in this response only; it is stored sealed and never shown again.
    return reply
      .status(201)
      .header("cache-control", "no-store")
      .send(await apps.register(caller.actor, body));
  });

  http.get("/v1/gateway/apps", async (req) => {
    const caller = authenticateCaller(req, internalToken);
    const q = parseInput(z.object({ agencyCode }), req.query, "query");
    requireAgency(caller, q.agencyCode);
    return { items: await apps.list(q.agencyCode) };
  });

  http.post("/v1/gateway/apps/:appId/disable", async (req) => {
    const caller = authenticateCaller(req, internalToken);
    const { appId } = parseInput(z.object({ appId: text().min(4).max(64) }), req.params, "params");
    const app = await apps.find(appId);
    if (!app) throw new AppError("not_found", `app ${appId} does not exist`, { code: "APP_UNKNOWN" });
    requireAgency(caller, app.agencyCode);
    return apps.disable(caller.actor, appId);
  });
}
