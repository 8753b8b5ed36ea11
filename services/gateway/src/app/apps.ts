import { randomBytes } from "node:crypto";
import { AppError } from "@piaoju/runtime";
import type { Sealer } from "@piaoju/sealing";
import { checkSignature, readSignatureHeaders, SIGNATURE_WINDOW_MS } from "../domain/signed-request.ts";
import type { PrismaClient } from "../generated/prisma/client.ts";

export interface AppView {
  appId: string;
  name: string;
  agencyCode: string;
  issuingPoints: string[];
  enabled: boolean;
  createdAt: string;
  createdBy: string;
}

/** The business system behind a verified request. */
export interface CallingApp {
  appId: string;
  agencyCode: string;
  issuingPoints: ReadonlySet<string>;
}

/** Business systems' credentials: registration, and the check of every signed call. */
export class Apps {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly sealer: Sealer,
    private readonly clock: () => Date,
  ) {}

  /** Registers a business system; its secret is returned this once and stored only sealed. */
  async register(
    actor: string,
    input: { name: string; agencyCode: string; issuingPoints: string[] },
  ): Promise<AppView & { appSecret: string }> {
    const appId = `app_${randomBytes(9).toString("base64url")}`;
    const appSecret = randomBytes(32).toString("base64url");
    const app = await this.prisma.$transaction(async (tx) => {
      const row = await tx.app.create({
        data: {
          appId,
          name: input.name,
          agencyCode: input.agencyCode,
          issuingPoints: [...new Set(input.issuingPoints)].sort(),
          sealedSecret: new Uint8Array(this.sealer.seal(secretContext(appId), appSecret)),
          createdBy: actor,
        },
      });
      await tx.auditLog.create({
        data: { actor, action: "app.register", subject: `app:${appId}`, detail: { ...input } },
      });
      return row;
    });
    return { ...view(app), appSecret };
  }

  async list(agencyCode: string): Promise<AppView[]> {
    const rows = await this.prisma.app.findMany({ where: { agencyCode }, orderBy: { createdAt: "asc" } });
    return rows.map(view);
  }

  async find(appId: string): Promise<AppView | undefined> {
    const row = await this.prisma.app.findUnique({ where: { appId } });
    return row ? view(row) : undefined;
  }

  async disable(actor: string, appId: string): Promise<AppView> {
    return this.prisma.$transaction(async (tx) => {
      const row = await tx.app.update({ where: { appId }, data: { enabled: false } }).catch(() => undefined);
      if (!row) throw new AppError("not_found", `app ${appId} does not exist`, { code: "APP_UNKNOWN" });
      await tx.auditLog.create({
        data: { actor, action: "app.disable", subject: `app:${appId}`, detail: {} },
      });
      return view(row);
    });
  }

  /**
   * Verifies a business call: known, enabled app; timestamp within the window; signature
   * over method, path, timestamp, nonce and body; then the nonce, claimed once (a replay of
   * a well-signed request is refused). Nothing about a failure says more than it must.
   */
  async authenticate(
    headers: Record<string, string | string[] | undefined>,
    request: { method: string; pathWithQuery: string; body: Uint8Array },
  ): Promise<CallingApp> {
    const signed = readSignatureHeaders(headers);
    const app = await this.prisma.app.findUnique({ where: { appId: signed.appId } });
    const now = this.clock();
    if (!app?.enabled) {
      // An unknown or disabled app is answered exactly as a wrong signature (the same check, against
      // a secret nobody has, throws the same error), so the answer never tells which app ids exist.
      checkSignature(DECOY_SECRET, signed, request, now);
      throw new AppError("unauthenticated", "signature does not match the request", {
        code: "BAD_SIGNATURE",
      });
    }
    checkSignature(this.sealer.unsealText(secretContext(app.appId), app.sealedSecret), signed, request, now);
    const claimed = await this.prisma.usedNonce.createMany({
      data: [{ appId: app.appId, nonce: signed.nonce, seenAt: now }],
      skipDuplicates: true,
    });
    if (claimed.count === 0) {
      throw new AppError("unauthenticated", "this nonce was used already: a replayed request", {
        code: "REPLAYED_NONCE",
      });
    }
    return { appId: app.appId, agencyCode: app.agencyCode, issuingPoints: new Set(app.issuingPoints) };
  }

  /** Forgets nonces older than twice the window: their timestamps would be refused anyway. */
  async pruneNonces(): Promise<number> {
    const before = new Date(this.clock().getTime() - 2 * SIGNATURE_WINDOW_MS);
    return (await this.prisma.usedNonce.deleteMany({ where: { seenAt: { lt: before } } })).count;
  }

  /**
   * Seals again every secret not in the current format under the current key: the secrets of a
   * data folder made before the shared format (docs/adr/0015), or under a key since rotated.
   * Run on start; returns how many it sealed again.
   */
  async resealStale(): Promise<number> {
    const rows = await this.prisma.app.findMany({ select: { appId: true, sealedSecret: true } });
    let count = 0;
    for (const row of rows) {
      const info = this.sealer.inspect(row.sealedSecret);
      if (info.format === "v1" && info.current) continue;
      const plain = this.sealer.unseal(secretContext(row.appId), row.sealedSecret);
      await this.prisma.app.update({
        where: { appId: row.appId },
        data: { sealedSecret: new Uint8Array(this.sealer.seal(secretContext(row.appId), plain)) },
      });
      count++;
    }
    return count;
  }
}

function view(app: {
  appId: string;
  name: string;
  agencyCode: string;
  issuingPoints: string[];
  enabled: boolean;
  createdAt: Date;
  createdBy: string;
}): AppView {
  return {
    appId: app.appId,
    name: app.name,
    agencyCode: app.agencyCode,
    issuingPoints: app.issuingPoints,
    enabled: app.enabled,
    createdAt: app.createdAt.toISOString(),
    createdBy: app.createdBy,
  };
}

/** A secret no app has: what an unknown app id's signature is checked against. */
const DECOY_SECRET = randomBytes(32).toString("base64url");

/** Where an app's sealed secret belongs: copied to another app's row, it does not open. */
function secretContext(appId: string): string {
  return `gateway/app/${appId}/secret`;
}
