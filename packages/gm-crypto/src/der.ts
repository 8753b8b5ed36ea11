/**
 * DER building and strict reading for the larger structures (X.509, PKCS#7), over asn1js.
 * Internal: not exported from the package. Readers return null on any mismatch; the callers turn
 * that into their own GmCryptoError code.
 */
import * as asn1js from "asn1js";

/** Parses exactly one BER/DER element spanning all of `bytes`; null otherwise. Never throws. */
export function parseDer(bytes: Uint8Array): asn1js.AsnType | null {
  if (!(bytes instanceof Uint8Array) || bytes.length === 0) return null;
  try {
    const parsed = asn1js.fromBER(bytes, {
      maxDepth: 64,
      maxNodes: 100_000,
      maxContentLength: 2 ** 31,
      // OCTET STRING / BIT STRING contents stay opaque bytes: extensions and contents are parsed
      // explicitly where their type is known.
      parseEmbedded: false,
    });
    if (parsed.offset !== bytes.length || parsed.result.error !== "") return null;
    return hasError(parsed.result) ? null : parsed.result;
  } catch {
    return null;
  }
}

/** asn1js records some inner errors only on the inner node. */
function hasError(node: asn1js.BaseBlock): boolean {
  if (node.error !== "") return true;
  if (node instanceof asn1js.Constructed) return node.valueBlock.value.some(hasError);
  return false;
}

export function der(block: asn1js.BaseBlock): Buffer {
  return Buffer.from(block.toBER(false));
}

/** The bytes a node was decoded from (its exact encoding, tag and length included). */
export function encodingOf(node: asn1js.BaseBlock): Buffer {
  const v = node.valueBeforeDecodeView;
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

export function seq(node: unknown, min = 0, max = Number.POSITIVE_INFINITY): asn1js.BaseBlock[] | null {
  if (!(node instanceof asn1js.Sequence)) return null;
  const items = node.valueBlock.value;
  return items.length < min || items.length > max ? null : items;
}

export function setItems(node: unknown): asn1js.BaseBlock[] | null {
  return node instanceof asn1js.Set ? node.valueBlock.value : null;
}

export function oid(node: unknown): string | null {
  return node instanceof asn1js.ObjectIdentifier ? node.getValue() : null;
}

export function integer(node: unknown): bigint | null {
  return node instanceof asn1js.Integer ? node.toBigInt() : null;
}

/** An OCTET STRING's content; a constructed (BER, chunked) one is joined. */
export function octets(node: unknown): Buffer | null {
  if (!(node instanceof asn1js.OctetString)) return null;
  if (!node.idBlock.isConstructed) return Buffer.from(node.valueBlock.valueHexView);
  return joinChunks(node.valueBlock.value);
}

function joinChunks(chunks: asn1js.BaseBlock[]): Buffer | null {
  const parts: Buffer[] = [];
  for (const part of chunks) {
    const bytes = octets(part);
    if (bytes === null) return null;
    parts.push(bytes);
  }
  return Buffer.concat(parts);
}

/** The content of an IMPLICIT [n] OCTET STRING (primitive, or constructed of OCTET STRING chunks). */
export function implicitOctets(node: asn1js.BaseBlock): Buffer | null {
  if (!node.idBlock.isConstructed) {
    return node instanceof asn1js.Primitive ? Buffer.from(node.valueBlock.valueHexView) : null;
  }
  return node instanceof asn1js.Constructed ? joinChunks(node.valueBlock.value) : null;
}

/** A BIT STRING's bytes when it has no unused bits; null otherwise. */
export function bitStringBytes(node: unknown): Buffer | null {
  if (!(node instanceof asn1js.BitString) || node.idBlock.isConstructed) return null;
  if (node.valueBlock.unusedBits !== 0) return null;
  return Buffer.from(node.valueBlock.valueHexView);
}

export function isContext(node: unknown, tagNumber: number): node is asn1js.BaseBlock {
  return (
    node instanceof asn1js.BaseBlock && node.idBlock.tagClass === 3 && node.idBlock.tagNumber === tagNumber
  );
}

/** The single child of an EXPLICIT [n]. */
export function explicitChild(node: unknown, tagNumber: number): asn1js.BaseBlock | null {
  if (!isContext(node, tagNumber) || !(node instanceof asn1js.Constructed)) return null;
  const items = node.valueBlock.value;
  return items.length === 1 ? items[0]! : null;
}

/** The children of a constructed IMPLICIT [n] (a SET OF or SEQUENCE OF whose tag was replaced). */
export function implicitChildren(node: unknown, tagNumber: number): asn1js.BaseBlock[] | null {
  if (!isContext(node, tagNumber) || !(node instanceof asn1js.Constructed)) return null;
  return node.valueBlock.value;
}

export function explicit(tagNumber: number, child: asn1js.BaseBlock): asn1js.Constructed {
  return new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber }, value: [child] });
}

export function implicitConstructed(tagNumber: number, children: asn1js.BaseBlock[]): asn1js.Constructed {
  return new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber }, value: children });
}

export function implicitPrimitive(tagNumber: number, bytes: Uint8Array): asn1js.Primitive {
  return new asn1js.Primitive({ idBlock: { tagClass: 3, tagNumber }, valueHex: bytes });
}

/** An already-encoded element, inserted as is (asn1js re-encodes parsed nodes faithfully for DER). */
export function raw(bytes: Uint8Array): asn1js.BaseBlock {
  const parsed = parseDer(bytes);
  if (parsed === null) throw new Error("internal: raw() got bytes that do not parse");
  return parsed;
}

/** DER SET OF: the elements sorted by their encodings (X.690 §11.6). */
export function derSetOf(items: asn1js.BaseBlock[]): asn1js.Set {
  const encoded = items.map((item) => ({ item, bytes: der(item) }));
  encoded.sort((a, b) => Buffer.compare(a.bytes, b.bytes));
  return new asn1js.Set({ value: encoded.map((e) => e.item) });
}

export function algorithm(oidValue: string, params?: asn1js.BaseBlock): asn1js.Sequence {
  const value: asn1js.BaseBlock[] = [new asn1js.ObjectIdentifier({ value: oidValue })];
  if (params) value.push(params);
  return new asn1js.Sequence({ value });
}

/** AlgorithmIdentifier's OID, with parameters absent or NULL; null for another shape. */
export function algorithmOid(node: unknown): string | null {
  const items = seq(node, 1, 2);
  if (!items) return null;
  if (items.length === 2 && !(items[1] instanceof asn1js.Null)) return null;
  return oid(items[0]);
}

/** RFC 5280 / RFC 5652 time: UTCTime for 1950–2049, GeneralizedTime otherwise; whole seconds. */
export function encodeTime(date: Date): asn1js.UTCTime | asn1js.GeneralizedTime {
  const whole = new Date(Math.floor(date.getTime() / 1000) * 1000);
  const year = whole.getUTCFullYear();
  if (year >= 1950 && year < 2050) return new asn1js.UTCTime({ valueDate: whole });
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  const text = `${pad(year, 4)}${pad(whole.getUTCMonth() + 1)}${pad(whole.getUTCDate())}${pad(
    whole.getUTCHours(),
  )}${pad(whole.getUTCMinutes())}${pad(whole.getUTCSeconds())}Z`;
  return new asn1js.GeneralizedTime({ value: text });
}

export function readTime(node: unknown): Date | null {
  if (!(node instanceof asn1js.UTCTime)) return null; // GeneralizedTime extends UTCTime
  try {
    const d = node.toDate();
    return Number.isNaN(d.getTime()) ? null : d;
  } catch {
    return null;
  }
}

export function readString(node: unknown): string | null {
  return node instanceof asn1js.BaseStringBlock ? node.getValue() : null;
}

/** Unsigned big-endian bytes of a non-negative bigint, minimal length (at least one byte). */
export function unsignedBytes(value: bigint): Buffer {
  let hex = value.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  return Buffer.from(hex, "hex");
}
