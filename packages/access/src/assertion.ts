import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomUUID,
  sign,
  verify,
} from "node:crypto";
import { z } from "zod";
import { type DataScope, dataScopes, isPermission, type Permission } from "./permissions.ts";

/**
 * The gateway's identity assertion: who is calling (a person or a business system), their agency,
 * and each grant (permissions + the data scope they reach). Signed with the gateway's Ed25519 key;
 * every service holds only the public key, so a service can verify but never mint one. Bound to
 * one request (method + path with query) and short-lived. ADR 0012 says why this shape.
 */
export const ASSERTION_HEADER = "x-piaoju-assertion";
/** How long an assertion is good for: one hop, with room for clock skew between pods. */
export const ASSERTION_TTL_SECONDS = 30;
const MAX_SKEW_SECONDS = 5;

export interface Grant {
  permissions: readonly Permission[];
  scope: DataScope;
  /** The issuing points a "points" grant reaches. */
  issuingPoints?: readonly string[];
}

export interface AssertedIdentity {
  /** The user name (person) or `app:<appId>` (a business system). */
  actor: string;
  kind: "person" | "app";
  /** The agency the person works for, or "*" for the platform's own administrators. */
  agency: string;
  grants: readonly Grant[];
  /** Where the person called from (for the services' own audit rows). */
  address?: string;
}

const payloadShape = z.object({
  v: z.literal(1),
  iss: z.literal("piaoju-gateway"),
  sub: z.string().regex(/^[\w.@:-]{1,80}$/),
  kind: z.enum(["person", "app"]),
  agency: z.string().regex(/^(\*|[0-9A-Za-z]{1,32})$/),
  grants: z
    .array(
      z.object({
        p: z.array(z.string().refine(isPermission, "a known permission")).max(100),
        s: z.enum(dataScopes as [DataScope, ...DataScope[]]),
        pts: z.array(z.string().max(32)).max(500).optional(),
      }),
    )
    .max(50),
  ip: z.string().max(64).optional(),
  htm: z.string(),
  htu: z.string(),
  iat: z.number().int(),
  exp: z.number().int(),
  jti: z.string(),
});

export type AssertionFailure = "malformed" | "bad-signature" | "expired" | "wrong-request";

export class AssertionRefused extends Error {
  constructor(readonly reason: AssertionFailure) {
    super(`identity assertion refused: ${reason}`);
  }
}

/** An Ed25519 key pair as the platform configures it: base64 DER (PKCS#8 private, SPKI public). */
export function generateAssertionKeys(): { privateKey: string; publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  return {
    privateKey: privateKey.export({ format: "der", type: "pkcs8" }).toString("base64"),
    publicKey: publicKey.export({ format: "der", type: "spki" }).toString("base64"),
  };
}

export function publicKeyOf(privateKey: string): string {
  return createPublicKey(parsePrivate(privateKey)).export({ format: "der", type: "spki" }).toString("base64");
}

function parsePrivate(key: string): KeyObject {
  const k = createPrivateKey({ key: Buffer.from(key, "base64"), format: "der", type: "pkcs8" });
  if (k.asymmetricKeyType !== "ed25519") throw new Error("the assertion key is not an Ed25519 key");
  return k;
}

/** The gateway's side (and operators' tools on a host that holds the key). */
export class AssertionSigner {
  readonly #key: KeyObject;
  constructor(
    privateKey: string,
    private readonly clock: () => number = () => Date.now(),
  ) {
    this.#key = parsePrivate(privateKey);
  }

  sign(identity: AssertedIdentity, request: { method: string; url: string }): string {
    const now = Math.floor(this.clock() / 1000);
    const payload: z.infer<typeof payloadShape> = {
      v: 1,
      iss: "piaoju-gateway",
      sub: identity.actor,
      kind: identity.kind,
      agency: identity.agency,
      grants: identity.grants.map((g) => ({
        p: [...g.permissions],
        s: g.scope,
        ...(g.scope === "points" ? { pts: [...(g.issuingPoints ?? [])] } : {}),
      })),
      ...(identity.address ? { ip: identity.address.slice(0, 64) } : {}),
      htm: request.method.toUpperCase(),
      htu: request.url,
      iat: now,
      exp: now + ASSERTION_TTL_SECONDS,
      jti: randomUUID(),
    };
    const body = Buffer.from(JSON.stringify(payload)).toString("base64url");
    const signature = sign(null, Buffer.from(body), this.#key).toString("base64url");
    return `${body}.${signature}`;
  }
}

/** Every service's side: the same code in each (the runtime's authenticateCaller calls it). */
export class AssertionVerifier {
  readonly #key: KeyObject;
  constructor(
    publicKey: string,
    private readonly clock: () => number = () => Date.now(),
  ) {
    const k = createPublicKey({ key: Buffer.from(publicKey, "base64"), format: "der", type: "spki" });
    if (k.asymmetricKeyType !== "ed25519") throw new Error("the assertion public key is not an Ed25519 key");
    this.#key = k;
  }

  verify(token: string, request: { method: string; url: string }): AssertedIdentity {
    const [body, signature, extra] = token.split(".");
    if (!body || !signature || extra !== undefined || token.length > 16_384)
      throw new AssertionRefused("malformed");
    if (!verify(null, Buffer.from(body), this.#key, Buffer.from(signature, "base64url"))) {
      throw new AssertionRefused("bad-signature");
    }
    let parsed: z.infer<typeof payloadShape>;
    try {
      parsed = payloadShape.parse(JSON.parse(Buffer.from(body, "base64url").toString("utf8")));
    } catch {
      throw new AssertionRefused("malformed");
    }
    const now = Math.floor(this.clock() / 1000);
    if (
      parsed.exp < now ||
      parsed.iat > now + MAX_SKEW_SECONDS ||
      parsed.exp - parsed.iat > ASSERTION_TTL_SECONDS
    ) {
      throw new AssertionRefused("expired");
    }
    if (parsed.htm !== request.method.toUpperCase() || parsed.htu !== request.url) {
      throw new AssertionRefused("wrong-request");
    }
    return {
      actor: parsed.sub,
      kind: parsed.kind,
      agency: parsed.agency,
      grants: parsed.grants.map((g) => ({
        permissions: g.p as Permission[],
        scope: g.s,
        ...(g.pts ? { issuingPoints: g.pts } : {}),
      })),
      ...(parsed.ip ? { address: parsed.ip } : {}),
    };
  }
}
