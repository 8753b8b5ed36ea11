import { AgencyProfileSynced, type Emit } from "@piaoju/contracts";
import type { SqlExecutor } from "@piaoju/persistence";
import type { AnswerBody } from "../../domain/messages.ts";
import type { AnswerContext } from "./context.ts";

/** 基础信息 answers: finance's base data for an agency, kept here and the agency's name announced. */

export async function baseData(
  ctx: AnswerContext,
  tx: SqlExecutor,
  emit: Emit,
  agencyCode: string,
  body: AnswerBody<"baseData">,
): Promise<void> {
  const now = ctx.clock();
  for (const e of body.entries) {
    await tx.query(
      `INSERT INTO base_data (agency_code, kind, code, payload, synced_at) VALUES ($1,$2,$3,$4::jsonb,$5)
       ON CONFLICT (agency_code, kind, code) DO UPDATE SET payload = EXCLUDED.payload, synced_at = EXCLUDED.synced_at`,
      [agencyCode, e.kind, e.code, JSON.stringify(e.payload), now],
    );
    // The agency's registered name, for the reports that must print it.
    const { name, regionCode } = e.payload;
    if (e.kind === "agency" && e.code === agencyCode && typeof name === "string" && name) {
      emit(AgencyProfileSynced, {
        agencyCode,
        name: name.slice(0, 200),
        ...(typeof regionCode === "string" && regionCode ? { regionCode } : {}),
        syncedAt: now.toISOString(),
      });
    }
  }
}
