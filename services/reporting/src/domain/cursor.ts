/**
 * Keyset paging for receipt search: the page after a cursor starts below the last receipt
 * shown in (issued at, id) order, newest first, so page 1,000 costs what page 1 costs (no OFFSET).
 */
export interface SearchCursor {
  issuedAt: string;
  id: string;
}

export function encodeCursor(c: SearchCursor): string {
  return Buffer.from(`${c.issuedAt}|${c.id}`, "utf8").toString("base64url");
}

/** undefined when the text is not a cursor this service made. */
export function decodeCursor(text: string): SearchCursor | undefined {
  const [issuedAt, id, extra] = Buffer.from(text, "base64url").toString("utf8").split("|");
  if (extra !== undefined || !issuedAt || !id) return undefined;
  if (Number.isNaN(Date.parse(issuedAt))) return undefined;
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id)) return undefined;
  return { issuedAt, id };
}

export { maskMiddle } from "@piaoju/contracts";
