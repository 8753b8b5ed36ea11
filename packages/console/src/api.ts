/**
 * The console's one way to the platform: same-origin fetch to the gateway's /api/console and
 * /api/internal. The session cookie is httpOnly (the page never sees it); every change echoes the
 * readable CSRF cookie in the x-csrf-token header, as the gateway's double-submit check wants.
 */
export interface Issue {
  field: string;
  message: string;
  messageZh?: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    message: string,
    readonly messageZh: string | undefined,
    readonly issues: Issue[],
  ) {
    super(message);
  }
}

function csrfToken(): string | undefined {
  const hit = document.cookie.split("; ").find((c) => c.startsWith("piaoju_csrf="));
  return hit ? decodeURIComponent(hit.slice("piaoju_csrf=".length)) : undefined;
}

export async function api<T = Record<string, unknown>>(
  method: "GET" | "POST" | "PUT" | "DELETE",
  path: string,
  body?: unknown,
): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (method !== "GET") {
    headers["content-type"] = "application/json";
    const csrf = csrfToken();
    if (csrf) headers["x-csrf-token"] = csrf;
  }
  const res = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    ...(method === "GET" ? {} : { body: JSON.stringify(body ?? {}) }),
  });
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (!res.ok) {
    const p = (parsed ?? {}) as {
      code?: string;
      detail?: string;
      detailZh?: string;
      title?: string;
      issues?: Issue[];
    };
    throw new ApiError(res.status, p.code, p.detail ?? p.title ?? res.statusText, p.detailZh, p.issues ?? []);
  }
  return parsed as T;
}

/** Internal routes for people: the same path as the service's, under /api/internal. */
export const internal = <T = Record<string, unknown>>(
  method: "GET" | "POST" | "PUT" | "DELETE",
  path: string,
  body?: unknown,
) => api<T>(method, `/api/internal${path}`, body);

export function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params))
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
}

/** 分 as 元 with two decimals. */
export const yuan = (fen: number) => (fen / 100).toFixed(2);
