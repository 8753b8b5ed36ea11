import { AppError } from "@piaoju/runtime";
import type { IssuanceContext, Tx } from "./context.ts";
import { formatNumber } from "./views.ts";

/** Numbers: the runs stock distributed (分发) to each issuing point, and taking the next one. */

/** Takes in a run of numbers for an issuing point; one run per distribution (a redelivery changes nothing). */
export async function receiveRun(
  ctx: IssuanceContext,
  tx: Tx,
  run: {
    distributionId: string;
    agencyCode: string;
    issuingPointCode: string;
    billCode: string;
    startNumber: string;
    endNumber: string;
  },
): Promise<void> {
  await tx.numberRun.createMany({
    data: [
      {
        id: run.distributionId,
        agencyCode: run.agencyCode,
        issuingPointCode: run.issuingPointCode,
        billCode: run.billCode,
        startNumber: BigInt(run.startNumber),
        endNumber: BigInt(run.endNumber),
        nextNumber: BigInt(run.startNumber),
        receivedAt: ctx.clock(),
      },
    ],
    skipDuplicates: true,
  });
}

export async function listNumberRuns(
  ctx: IssuanceContext,
  filter: { agencyCode: string; issuingPointCode?: string | undefined },
) {
  const runs = await ctx.prisma.numberRun.findMany({
    where: {
      agencyCode: filter.agencyCode,
      ...(filter.issuingPointCode ? { issuingPointCode: filter.issuingPointCode } : {}),
    },
    orderBy: [{ issuingPointCode: "asc" }, { billCode: "asc" }, { startNumber: "asc" }],
    take: 1000,
  });
  return runs.map((r) => ({
    id: r.id,
    agencyCode: r.agencyCode,
    issuingPointCode: r.issuingPointCode,
    billCode: r.billCode,
    startNumber: formatNumber(r.startNumber),
    endNumber: formatNumber(r.endNumber),
    nextNumber: formatNumber(r.nextNumber),
    remaining: Number(r.endNumber - r.nextNumber + 1n),
    exhausted: r.exhausted,
  }));
}

/**
 * Takes the issuing point's next number, inside the caller's (the receipt's) transaction.
 *
 * The oldest run that still has numbers is locked (FOR UPDATE), its next_number taken and
 * advanced. The advance commits or rolls back with the receipt that uses the number: a crash
 * or an error before COMMIT undoes both, so a number is never lost (no gap) and the row lock
 * serialises the point's issuers (no duplicate). No number is reserved outside a receipt,
 * so there is nothing to void after a crash.
 */
export async function allocateNumber(
  tx: Tx,
  at: { agencyCode: string; issuingPointCode: string; billCode: string },
): Promise<bigint> {
  // A run exhausted by the transaction we waited for fails PostgreSQL's re-check once the lock is
  // granted, and the scan moves on to the next run (the row lock sits under the LIMIT). Should a
  // re-check ever leave the answer empty while runs with numbers remain, a new statement (fresh
  // snapshot) asks again: the loop is a guard, not the usual path (the concurrency test crosses
  // runs of 30 under 40 clients without needing it).
  //
  // One statement, one round trip: the sub-select locks the run (FOR UPDATE, re-checked against
  // the latest version once granted), and the UPDATE advances the row it locked, so the point's
  // lock is held from this statement to COMMIT and no longer (the receipt's other statements
  // around it do not wait on each other's numbers).
  for (let attempt = 0; attempt < 5; attempt++) {
    const [run] = await tx.$queryRaw<Array<{ number: bigint }>>`
      UPDATE number_run SET next_number = next_number + 1, exhausted = (next_number + 1 > end_number)
       WHERE NOT exhausted AND id = (
         SELECT id FROM number_run
          WHERE agency_code = ${at.agencyCode} AND issuing_point_code = ${at.issuingPointCode}
            AND bill_code = ${at.billCode} AND NOT exhausted
          ORDER BY start_number LIMIT 1 FOR UPDATE)
      RETURNING next_number - 1 AS number`;
    if (run) return BigInt(run.number);
    const [left] = await tx.$queryRaw<Array<{ n: bigint }>>`
      SELECT count(*) AS n FROM number_run
       WHERE agency_code = ${at.agencyCode} AND issuing_point_code = ${at.issuingPointCode}
         AND bill_code = ${at.billCode} AND NOT exhausted`;
    if (!left || BigInt(left.n) === 0n) break;
  }
  throw new AppError(
    "conflict",
    `issuing point ${at.issuingPointCode} has no numbers left for bill code ${at.billCode} (agency ${at.agencyCode})`,
    { code: "NO_STOCK" },
  );
}
