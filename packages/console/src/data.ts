import { useEffect, useState } from "react";
import { api, internal, query } from "./api.ts";
import { useSession } from "./session.tsx";

/** Today's business day (Asia/Shanghai), as the platform counts it. */
export function businessDay(at = new Date()): string {
  return new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(at);
}

export interface Point {
  code: string;
  name: string;
  enabled: boolean;
}
export interface Item {
  code: string;
  name: string;
  unit: string;
  standardFen: number | null;
  enabled: boolean;
}
export interface BillKind {
  billCode: string;
  name: string;
}

/**
 * A list the page needs (issuing points, items, bill kinds, users), reloadable: a service's
 * internal route, or (`"console"`) one of the gateway's own /api/console routes.
 */
export function useList<T>(
  path: string | undefined,
  from: "internal" | "console" = "internal",
): [T[], () => void] {
  const [items, setItems] = useState<T[]>([]);
  const [tick, setTick] = useState(0);
  // biome-ignore lint/correctness/useExhaustiveDependencies: tick is the reload button's: a new value fetches again
  useEffect(() => {
    if (!path) return;
    let live = true;
    (from === "console" ? api<{ items: T[] }>("GET", path) : internal<{ items: T[] }>("GET", path))
      .then((out) => live && setItems(out.items))
      .catch(() => live && setItems([]));
    return () => {
      live = false;
    };
  }, [path, from, tick]);
  return [items, () => setTick((n) => n + 1)];
}

/** The issuing points the person may work at: theirs when bound to some, else the agency's. */
export function usePoints(): Point[] {
  const { me, agency } = useSession();
  const [all] = useList<Point>(
    agency ? `/v1/issuance/issuing-points${query({ agencyCode: agency })}` : undefined,
  );
  const bound = me.issuingPoints;
  return bound.length ? all.filter((p) => bound.includes(p.code)) : all;
}

export interface Hit {
  id: string;
  issuedAt: string;
  billCode: string;
  number: string;
  kind: "blue" | "red";
  status: string;
  issuingPointCode: string;
  payerName: string;
  payerCode: string;
  totalFen: number;
  bizSerialNo: string;
  items: string;
  handlingPerson: string;
}

/**
 * 票据查询 over the reporting service's search; a person bound to several issuing points asks
 * for each (the service reads points one at a time for them) and sees the answers together.
 */
export async function searchReceipts(
  agency: string,
  boundPoints: string[],
  filters: Record<string, string | number | undefined>,
): Promise<Hit[]> {
  const points = filters.issuingPointCode
    ? [String(filters.issuingPointCode)]
    : boundPoints.length > 1
      ? boundPoints
      : [undefined];
  const pages = await Promise.all(
    points.map((p) =>
      internal<{ items: Hit[] }>(
        "GET",
        `/v1/reporting/receipts${query({ ...filters, agencyCode: agency, issuingPointCode: p, limit: 200 })}`,
      ),
    ),
  );
  return pages.flatMap((p) => p.items).sort((a, b) => b.issuedAt.localeCompare(a.issuedAt));
}
