import { timingSafeEqual } from "node:crypto";
import { AppError } from "@piaoju/runtime";
import type { FastifyRequest } from "fastify";
import { authHeaders, SIGNATURE_WINDOW_MS, signFinanceRequest } from "../api.ts";

/** Nonces seen within the signature window (and a margin), per agency: a replayed request is refused. */
export class NonceMemory {
  readonly #seen = new Map<string, number>();
  readonly #ttlMs = 2 * SIGNATURE_WINDOW_MS;

  /** false when the nonce was used already. */
  remember(agencyCode: string, nonce: string, now: number): boolean {
    if (this.#seen.size > 10_000) this.#forgetOlderThan(now - this.#ttlMs);
    const key = `${agencyCode}\n${nonce}`;
    if (this.#seen.has(key)) return false;
    this.#seen.set(key, now);
    return true;
  }

  #forgetOlderThan(cutoff: number): void {
    for (const [key, at] of this.#seen) if (at < cutoff) this.#seen.delete(key);
  }
}

/**
 * Authenticates an agency's signed request (scheme in README / src/api.ts) and returns its code.
 * The secret lookup is the caller's (it is sealed in the database).
 */
export async function authenticateAgency(
  req: FastifyRequest,
  secretOf: (agencyCode: string) => Promise<string | undefined>,
  nonces: NonceMemory,
  now = Date.now(),
): Promise<string> {
  const header = (name: string) => {
    const value = req.headers[name];
    return typeof value === "string" ? value.trim() : "";
  };
  const agency = header(authHeaders.agency);
  const timestamp = header(authHeaders.timestamp);
  const nonce = header(authHeaders.nonce);
  const signature = header(authHeaders.signature);
  const issues = [
    !/^[0-9A-Za-z]{1,32}$/.test(agency) && {
      field: `header.${authHeaders.agency}`,
      message: "the agency code",
    },
    !/^\d{13}$/.test(timestamp) && {
      field: `header.${authHeaders.timestamp}`,
      message: "Unix time in milliseconds",
    },
    !/^[A-Za-z0-9_-]{16,64}$/.test(nonce) && {
      field: `header.${authHeaders.nonce}`,
      message: "16-64 of A-Z a-z 0-9 _ -",
    },
    !/^[0-9a-f]{64}$/.test(signature) && {
      field: `header.${authHeaders.signature}`,
      message: "hex HMAC-SM3, 64 characters",
    },
  ].filter((i): i is { field: string; message: string } => Boolean(i));
  if (issues.length > 0) {
    throw new AppError("unauthenticated", issues.map((i) => `${i.field}: ${i.message}`).join("; "), {
      code: "SIGNATURE_HEADERS",
      issues: issues.map((i) => ({ ...i, rule: "required" })),
    });
  }
  const secret = await secretOf(agency);
  if (secret === undefined)
    throw new AppError("unauthenticated", `unknown agency ${agency}`, { code: "UNKNOWN_AGENCY" });
  const skew = Math.abs(now - Number(timestamp));
  if (skew > SIGNATURE_WINDOW_MS) {
    throw new AppError(
      "unauthenticated",
      `timestamp is ${Math.round(skew / 1000)} s off the server's clock`,
      {
        code: "STALE_REQUEST",
      },
    );
  }
  const expected = Buffer.from(
    signFinanceRequest(secret, {
      method: req.method,
      pathWithQuery: req.url,
      timestamp,
      nonce,
      body: req.rawBody ?? Buffer.alloc(0),
    }),
    "hex",
  );
  const presented = Buffer.from(signature, "hex");
  if (!timingSafeEqual(presented, expected)) {
    throw new AppError("unauthenticated", "signature does not match the request", { code: "BAD_SIGNATURE" });
  }
  // Only a correctly signed request spends its nonce (a forged one must not block the real one).
  if (!nonces.remember(agency, nonce, now)) {
    throw new AppError("unauthenticated", "this nonce was used already", { code: "NONCE_REUSED" });
  }
  return agency;
}
