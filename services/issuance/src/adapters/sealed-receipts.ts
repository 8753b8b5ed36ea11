import type { Sealer } from "@piaoju/sealing";
import { Prisma, type PrismaClient } from "../generated/prisma/client.ts";

/**
 * Personal data of a receipt sealed at rest (@piaoju/sealing, docs/adr/0015): the payer's code
 * (ID number, credit code) and name, the request as accepted (it holds the payer's phone and
 * e-mail), and the XML document (it names the payer). One place does it, as a Prisma query
 * extension on the receipt model: writes seal those fields, reads open them, so the use cases
 * read and write receipts as before and never see a sealed byte.
 *
 * Issuance looks nothing up by payer (delivery and reporting do, by keyed hash), so it keeps no
 * payer hashes. Rows written before sealing hold the fields in clear; `resealStale` seals them
 * on start, and reads open either form until then.
 */
const PJSL = Buffer.from("PJSL", "latin1");

type Row = Record<string, unknown>;

export function payerContext(id: string): string {
  return `issuance/receipt/${id}/payer`;
}
export function requestContext(id: string): string {
  return `issuance/receipt/${id}/request`;
}
export function documentContext(id: string): string {
  return `issuance/receipt/${id}/document`;
}

/** The client every use case works with: the same type, the receipt model sealed underneath. */
export function withSealedReceipts(prisma: PrismaClient, sealer: Sealer): PrismaClient {
  return prisma.$extends({
    query: {
      receipt: {
        async $allOperations({ operation, args, query }) {
          const a = args as {
            data?: unknown;
            select?: Record<string, boolean>;
            create?: unknown;
            update?: unknown;
          };
          if (a.data !== undefined)
            a.data = Array.isArray(a.data) ? a.data.map(sealWrite) : sealWrite(a.data as Row);
          if (operation === "upsert") {
            a.create = sealWrite(a.create as Row);
            a.update = sealWrite(a.update as Row);
          }
          let strip: string[] = [];
          if (a.select) ({ select: a.select, strip } = widenSelect(a.select));
          const result = await query(args);
          return openResult(result, strip);
        },
      },
    },
  }) as unknown as PrismaClient;

  function sealWrite(data: Row): Row {
    const out: Row = { ...data };
    const id = typeof data.id === "string" ? data.id : undefined;
    const touches = "payerCode" in data || "payerName" in data || "request" in data || "document" in data;
    if (!touches) return out;
    if (!id) throw new Error("a receipt's payer, request or document is written only with its id");
    if ("payerCode" in data || "payerName" in data) {
      out.sealedPayer = new Uint8Array(
        sealer.sealJson(payerContext(id), { code: data.payerCode, name: data.payerName }),
      );
      out.payerCode = null;
      out.payerName = null;
    }
    if ("request" in data) {
      out.sealedRequest = new Uint8Array(sealer.sealJson(requestContext(id), data.request));
      out.request = Prisma.DbNull;
    }
    if ("document" in data && data.document instanceof Uint8Array)
      out.document = new Uint8Array(sealer.seal(documentContext(id), data.document));
    return out;
  }

  function openResult(result: unknown, strip: string[]): unknown {
    if (Array.isArray(result)) return result.map((r) => openResult(r, strip));
    if (!result || typeof result !== "object" || !("id" in result)) return result;
    const row = result as Row;
    const id = row.id as string;
    if (row.sealedPayer instanceof Uint8Array) {
      const payer = sealer.unsealJson<{ code: string; name: string }>(payerContext(id), row.sealedPayer);
      row.payerCode = payer.code;
      row.payerName = payer.name;
    }
    if (row.sealedRequest instanceof Uint8Array)
      row.request = sealer.unsealJson(requestContext(id), row.sealedRequest);
    if (row.document instanceof Uint8Array && isSealed(row.document))
      row.document = new Uint8Array(sealer.unseal(documentContext(id), row.document));
    delete row.sealedPayer;
    delete row.sealedRequest;
    for (const f of strip) delete row[f];
    return row;
  }
}

/** A select of sealed fields also reads what opens them (the id, the sealed column); returns what to drop again. */
function widenSelect(select: Record<string, boolean>): { select: Record<string, boolean>; strip: string[] } {
  const wanted = { ...select };
  const strip: string[] = [];
  const need = (field: string) => {
    if (!wanted[field]) {
      wanted[field] = true;
      strip.push(field);
    }
  };
  if (wanted.payerCode || wanted.payerName) {
    need("sealedPayer");
    need("id");
  }
  if (wanted.request) {
    need("sealedRequest");
    need("id");
  }
  if (wanted.document) need("id");
  // sealedPayer/sealedRequest are deleted by openResult anyway; strip only what the caller did not ask for.
  return { select: wanted, strip: strip.filter((f) => f !== "sealedPayer" && f !== "sealedRequest") };
}

function isSealed(bytes: Uint8Array): boolean {
  return bytes.length > 4 && Buffer.from(bytes.buffer, bytes.byteOffset, 4).equals(PJSL);
}

/**
 * Seals, in the current format and key, the receipts written before sealing (payer, request and
 * document in clear) and those under a key since rotated. Through the plain client: it reads the
 * stored form. Returns how many rows it sealed again.
 */
export async function resealStale(prisma: PrismaClient, sealer: Sealer): Promise<number> {
  const sealed = withSealedReceipts(prisma, sealer);
  let count = 0;
  let after: string | undefined;
  for (;;) {
    const rows = await prisma.receipt.findMany({
      select: { id: true, payerCode: true, sealedPayer: true, sealedRequest: true, document: true },
      ...(after ? { where: { id: { gt: after } } } : {}),
      orderBy: { id: "asc" },
      take: 200,
    });
    if (rows.length === 0) return count;
    after = rows.at(-1)?.id;
    const current = (b: Uint8Array | null) => {
      if (!b) return false;
      const info = sealer.inspect(b);
      return info.format === "v1" && info.current;
    };
    for (const r of rows) {
      if (r.payerCode === null && current(r.sealedPayer) && current(r.sealedRequest) && current(r.document))
        continue;
      const open = await sealed.receipt.findUniqueOrThrow({
        where: { id: r.id },
        select: { id: true, payerCode: true, payerName: true, request: true, document: true },
      });
      await sealed.receipt.update({
        where: { id: r.id },
        data: {
          id: r.id,
          payerCode: open.payerCode,
          payerName: open.payerName,
          request: open.request as Prisma.InputJsonValue,
          document: open.document,
        },
      });
      count++;
    }
  }
}
