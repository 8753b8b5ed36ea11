/**
 * DER written and read directly on bytes, for the hot paths (building SignedData and
 * EnvelopedData, opening envelopes, SM2 ciphertexts): with SM2 in native code, building these
 * through asn1js objects cost more than the cryptography. Internal: not exported from the package.
 * Only definite lengths; readers return null on anything unexpected, and callers then fall back
 * to the asn1js readers (der.ts), which give the precise error.
 */

export function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** tag ‖ length ‖ the parts. */
export function tlv(tag: number, ...parts: Uint8Array[]): Buffer {
  let length = 0;
  for (const p of parts) length += p.length;
  return Buffer.concat([Buffer.from([tag]), derLength(length), ...parts]);
}

const oidCache = new Map<string, Buffer>();

export function derOid(oid: string): Buffer {
  let encoded = oidCache.get(oid);
  if (!encoded) {
    const arcs = oid.split(".").map(Number);
    const body: number[] = [];
    const push = (value: number) => {
      const chunk = [value & 0x7f];
      for (let v = Math.floor(value / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v & 0x7f) | 0x80);
      body.push(...chunk);
    };
    push(arcs[0]! * 40 + arcs[1]!);
    for (const arc of arcs.slice(2)) push(arc);
    encoded = tlv(0x06, Buffer.from(body));
    oidCache.set(oid, encoded);
  }
  return encoded;
}

/** INTEGER of a non-negative value (minimal, with a 0x00 when the top bit is set). */
export function derUnsignedInteger(value: bigint | number): Buffer {
  let hex = BigInt(value).toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  let bytes = Buffer.from(hex, "hex");
  if (bytes[0]! & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return tlv(0x02, bytes);
}

export function derOctets(bytes: Uint8Array): Buffer {
  return tlv(0x04, bytes);
}

/** AlgorithmIdentifier with absent parameters, or with the given encoded parameters. */
export function derAlgorithm(oid: string, params?: Uint8Array): Buffer {
  return params ? tlv(0x30, derOid(oid), params) : tlv(0x30, derOid(oid));
}

/** DER SET OF: elements sorted by their encodings (X.690 §11.6). */
export function derSetOf(items: Uint8Array[], tag = 0x31): Buffer {
  return tlv(tag, ...[...items].sort(Buffer.compare));
}

/** RFC 5280 / 5652 time: UTCTime for 1950–2049, GeneralizedTime otherwise; whole seconds. */
export function derTime(date: Date): Buffer {
  const d = new Date(Math.floor(date.getTime() / 1000) * 1000);
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  const year = d.getUTCFullYear();
  const rest = `${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}Z`;
  if (year >= 1950 && year < 2050) return tlv(0x17, Buffer.from(`${pad(year % 100)}${rest}`, "latin1"));
  return tlv(0x18, Buffer.from(`${pad(year, 4)}${rest}`, "latin1"));
}

export interface Tlv {
  tag: number;
  /** Where the element starts (its tag byte). */
  offset: number;
  /** Its value's bounds. */
  start: number;
  end: number;
}

/** The DER element at `offset` (definite, minimal-length encodings only), or null. */
export function readTlv(buf: Uint8Array, offset: number, limit = buf.length): Tlv | null {
  if (offset + 2 > limit) return null;
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) return null; // high tag numbers: not in these structures
  let length = buf[offset + 1]!;
  let start = offset + 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    if (n === 0 || n > 4 || start + n > limit || buf[start] === 0) return null;
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + buf[start + i]!;
    if (length < 0x80) return null;
    start += n;
  }
  const end = start + length;
  return end > limit ? null : { tag, offset, start, end };
}

/** The children of a constructed element, each a complete TLV, exactly filling it; or null. */
export function children(buf: Uint8Array, parent: Tlv): Tlv[] | null {
  const out: Tlv[] = [];
  for (let at = parent.start; at < parent.end; ) {
    const child = readTlv(buf, at, parent.end);
    if (!child) return null;
    out.push(child);
    at = child.end;
  }
  return out;
}

const oidTextCache = new Map<string, string>();

/** The dotted text of an OBJECT IDENTIFIER element, or null. */
export function oidText(buf: Uint8Array, t: Tlv | undefined): string | null {
  if (t?.tag !== 0x06 || t.end === t.start) return null;
  const key = Buffer.from(buf.buffer, buf.byteOffset + t.start, t.end - t.start).toString("latin1");
  let text = oidTextCache.get(key);
  if (text === undefined) {
    const arcs: number[] = [];
    let value = 0;
    for (let i = t.start; i < t.end; i++) {
      value = value * 128 + (buf[i]! & 0x7f);
      if (!(buf[i]! & 0x80)) {
        if (arcs.length === 0)
          arcs.push(value < 80 ? Math.floor(value / 40) : 2, value < 80 ? value % 40 : value - 80);
        else arcs.push(value);
        value = 0;
      } else if (i === t.end - 1) {
        return null;
      }
    }
    text = arcs.join(".");
    if (oidTextCache.size < 1024) oidTextCache.set(key, text);
  }
  return text;
}

/** A small non-negative INTEGER's value, or null. */
export function smallInteger(buf: Uint8Array, t: Tlv | undefined): number | null {
  if (t?.tag !== 0x02 || t.end === t.start || t.end - t.start > 4 || buf[t.start]! & 0x80) return null;
  let v = 0;
  for (let i = t.start; i < t.end; i++) v = v * 256 + buf[i]!;
  return v;
}

export function slice(buf: Uint8Array, t: Tlv, whole = false): Buffer {
  const from = whole ? t.offset : t.start;
  return Buffer.from(buf.buffer, buf.byteOffset + from, t.end - from);
}
