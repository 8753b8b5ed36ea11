import { randomUUID } from "node:crypto";
import { type Emit, RECONCILIATION_DIFFERENCES_IN_EVENT, ReconciliationCompleted } from "@piaoju/contracts";
import { sm3 } from "@piaoju/gm-crypto";
import type { SqlExecutor } from "@piaoju/persistence";
import { archivedContext } from "../../adapters/sealed-documents.ts";
import { carriedCertificate, checkSignatures, contentSm3 } from "../../domain/archive.ts";
import { cstDayBounds } from "../../domain/days.ts";
import type { AnswerBody, RequestPayload } from "../../domain/messages.ts";
import { type IssuedHere, reconcile, type SupervisedThere } from "../../domain/reconcile.ts";
import type { ItemRow } from "../rows.ts";
import type { AnswerContext } from "./context.ts";

/** 下载 answers: supervised receipts downloaded, checked and archived; then the day reconciled (对账). */

/**
 * Downloaded supervised receipts: each checked (both signatures, finance's certificate) and
 * archived by content hash, once; then, when asked, the day's reconciliation report.
 */
export async function downloaded(
  ctx: AnswerContext,
  tx: SqlExecutor,
  emit: Emit,
  p: RequestPayload<"downloadSupervised">,
  body: AnswerBody<"downloadSupervised">,
): Promise<void> {
  const now = ctx.clock();
  const there = new Map<string, SupervisedThere>();
  for (const r of body.receipts) {
    if (r.agencyCode !== p.agencyCode) continue;
    const check = checkSignatures(r, {
      financeCertificateSm3: ctx.financeCertificateSm3 ?? r.financeCertificateSm3,
    });
    const hash = contentSm3(r);
    const entry: SupervisedThere = {
      receiptId: r.receiptId ?? "",
      billCode: r.billCode,
      number: r.number,
      financeRef: r.financeRef,
      supervisedAt: r.supervisedAt,
      documentSm3: r.documentSm3,
      agencySignatureSm3: sm3(r.agencySignature).toString("hex"),
      financeSignatureSm3: sm3(r.financeSignature).toString("hex"),
      signatureProblem: check.ok ? undefined : check.problem,
      archivedAs: check.ok ? hash : undefined,
    };
    there.set(`${r.billCode}/${r.number}`, entry);
    if (!check.ok) continue;
    await tx.query(
      `INSERT INTO archived_receipt (content_sm3, receipt_id, agency_code, bill_code, number, finance_ref, supervised_at,
         document, agency_signature, finance_signature, finance_certificate, archived_at)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12) ON CONFLICT DO NOTHING`,
      [
        hash,
        r.receiptId ?? null,
        r.agencyCode,
        r.billCode,
        r.number,
        r.financeRef,
        r.supervisedAt,
        ctx.documents.seal(archivedContext(hash), r.document),
        r.agencySignature,
        r.financeSignature,
        carriedCertificate(r.financeSignature) ??
          Buffer.from(check.financeCertificate.toDer()).toString("base64"),
        now,
      ],
    );
  }
  if (p.reconcile) await reconcileDay(ctx, tx, emit, p.agencyCode, p.day, [...there.values()]);
}

export async function reconcileDay(
  ctx: AnswerContext,
  tx: SqlExecutor,
  emit: Emit,
  agencyCode: string,
  day: string,
  there: SupervisedThere[],
): Promise<void> {
  const { start, end } = cstDayBounds(day);
  const items = await tx.query<ItemRow>(
    `SELECT * FROM supervision_item WHERE agency_code = $1 AND issued_at >= $2 AND issued_at < $3`,
    [agencyCode, start, end],
  );
  const here: IssuedHere[] = items.map((i) => ({
    receiptId: i.receipt_id,
    billCode: i.bill_code,
    number: i.number,
    issuedAt: i.issued_at.toISOString(),
    status: i.status,
    documentSm3: i.document_sm3,
    agencySignatureSm3: sm3(i.agency_signature).toString("hex"),
    financeSignatureSm3: i.finance_signature ? sm3(i.finance_signature).toString("hex") : undefined,
    rejectionCode: i.rejection_code ?? undefined,
  }));
  const result = reconcile(here, there);
  const reportId = randomUUID();
  const createdAt = ctx.clock();
  await tx.query(
    `INSERT INTO reconciliation_report (id, agency_code, day, created_at, summary, differences)
     VALUES ($1,$2,$3,$4,$5::jsonb,$6::jsonb)`,
    [
      reportId,
      agencyCode,
      day,
      createdAt,
      JSON.stringify(result.summary),
      JSON.stringify(result.differences),
    ],
  );
  const { byKind: _byKind, ...summary } = result.summary;
  const carried = result.differences.slice(0, RECONCILIATION_DIFFERENCES_IN_EVENT);
  emit(ReconciliationCompleted, {
    reportId,
    agencyCode,
    day,
    reconciledAt: createdAt.toISOString(),
    summary,
    differences: carried.map((d) => ({
      kind: d.kind,
      billCode: d.billCode,
      number: d.number,
      ...(d.receiptId ? { receiptId: d.receiptId } : {}),
      ...(d.financeRef ? { financeRef: d.financeRef } : {}),
      explanation: d.explanation.slice(0, 1000),
    })),
    differencesOmitted: result.differences.length - carried.length,
  });
}
