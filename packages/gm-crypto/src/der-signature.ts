/**
 * SM2 signature encodings. "der" is GM/T 0009's SEQUENCE { r INTEGER, s INTEGER } (what OpenSSL,
 * Node and most Java/C libraries exchange, 70–72 bytes); "raw" is r‖s, each 32 bytes big-endian
 * (64 bytes; what sm-crypto calls non-DER and what many HSM/UKey APIs return).
 *
 * Hand-written rather than asn1js: the structure is two small INTEGERs, the check must be strict
 * (canonical DER only: one encoding per signature, like OpenSSL's verify) and it runs per signature.
 */
import { bigintFromBytes, bigintToBytes } from "./bytes.ts";
import { GmCryptoError } from "./errors.ts";

export type SignatureFormat = "der" | "raw";

const TWO_256 = 1n << 256n;

function badFormat(message: string): GmCryptoError {
  return new GmCryptoError("BAD_SIGNATURE_FORMAT", message);
}

function encodeInteger(v: bigint): Buffer {
  let bytes =
    v === 0n
      ? Buffer.from([0])
      : Buffer.from(v.toString(16).padStart(2 * Math.ceil(v.toString(16).length / 2), "0"), "hex");
  if (bytes[0]! & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return Buffer.concat([Buffer.from([0x02, bytes.length]), bytes]);
}

export function encodeDerSignature(r: bigint, s: bigint): Buffer {
  if (r < 0n || r >= TWO_256 || s < 0n || s >= TWO_256)
    throw badFormat("r and s must be 256-bit unsigned integers");
  const body = Buffer.concat([encodeInteger(r), encodeInteger(s)]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

/**
 * Strict DER: exact lengths, minimal non-negative INTEGERs of at most 256 bits, nothing trailing.
 * Returns the two INTEGERs' value bytes (views into `der`, sign byte included).
 */
function readDerIntegers(der: Uint8Array): [Uint8Array, Uint8Array] {
  if (!(der instanceof Uint8Array)) throw badFormat("signature must be bytes");
  if (der.length < 8 || der.length > 72)
    throw badFormat(`DER signature of ${der.length} bytes (expected 8–72)`);
  if (der[0] !== 0x30 || der[1] !== der.length - 2) throw badFormat("not a DER SEQUENCE of the right length");
  let offset = 2;
  const readInteger = (): Uint8Array => {
    if (der[offset] !== 0x02) throw badFormat("expected an INTEGER");
    const len = der[offset + 1]!;
    if (len < 1 || len > 33 || offset + 2 + len > der.length) throw badFormat("bad INTEGER length");
    const bytes = der.subarray(offset + 2, offset + 2 + len);
    if (bytes[0]! & 0x80) throw badFormat("negative INTEGER");
    if (len > 1 && bytes[0] === 0 && !(bytes[1]! & 0x80)) throw badFormat("non-minimal INTEGER encoding");
    if (len === 33 && bytes[0] !== 0) throw badFormat("INTEGER wider than 256 bits");
    offset += 2 + len;
    return bytes;
  };
  const r = readInteger();
  const s = readInteger();
  if (offset !== der.length) throw badFormat("trailing bytes after the signature");
  return [r, s];
}

export function decodeDerSignature(der: Uint8Array): { r: bigint; s: bigint } {
  const [r, s] = readDerIntegers(der);
  return { r: bigintFromBytes(r), s: bigintFromBytes(s) };
}

/** r‖s (64 bytes) of a signature in either format, strictly checked, without big integers. */
export function signatureToRawBytes(signature: Uint8Array, format: SignatureFormat): Buffer {
  if (format === "raw") {
    decodeRawSignatureLength(signature);
    return Buffer.from(signature.buffer, signature.byteOffset, 64);
  }
  if (format !== "der") throw badFormat(`unknown signature format ${String(format)}`);
  const [r, s] = readDerIntegers(signature);
  const out = Buffer.alloc(64);
  out.set(r.length === 33 ? r.subarray(1) : r, 32 - Math.min(r.length, 32));
  out.set(s.length === 33 ? s.subarray(1) : s, 64 - Math.min(s.length, 32));
  return out;
}

function minimalInteger(bytes: Uint8Array): Uint8Array {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  return bytes.subarray(i);
}

/** DER SEQUENCE { r, s } from r‖s bytes (64), without big integers. */
export function rawBytesToDer(rs: Uint8Array): Buffer {
  const r = minimalInteger(rs.subarray(0, 32));
  const s = minimalInteger(rs.subarray(32, 64));
  const rPad = r[0]! & 0x80 ? 1 : 0;
  const sPad = s[0]! & 0x80 ? 1 : 0;
  const rLen = r.length + rPad;
  const sLen = s.length + sPad;
  const out = Buffer.alloc(6 + rLen + sLen);
  out[0] = 0x30;
  out[1] = 4 + rLen + sLen;
  out[2] = 0x02;
  out[3] = rLen;
  out.set(r, 4 + rPad);
  out[4 + rLen] = 0x02;
  out[5 + rLen] = sLen;
  out.set(s, 6 + rLen + sPad);
  return out;
}

function decodeRawSignatureLength(raw: Uint8Array): void {
  if (!(raw instanceof Uint8Array) || raw.length !== 64) {
    throw badFormat(
      `raw signature must be 64 bytes (r‖s), got ${raw instanceof Uint8Array ? raw.length : typeof raw}`,
    );
  }
}

export function decodeRawSignature(raw: Uint8Array): { r: bigint; s: bigint } {
  decodeRawSignatureLength(raw);
  return { r: bigintFromBytes(raw.subarray(0, 32)), s: bigintFromBytes(raw.subarray(32)) };
}

export function encodeRawSignature(r: bigint, s: bigint): Buffer {
  return Buffer.concat([bigintToBytes(r), bigintToBytes(s)]);
}

export function decodeSignature(signature: Uint8Array, format: SignatureFormat): { r: bigint; s: bigint } {
  if (format === "der") return decodeDerSignature(signature);
  if (format === "raw") return decodeRawSignature(signature);
  throw badFormat(`unknown signature format ${String(format)}`);
}

/** DER → r‖s (64 bytes). */
export function signatureDerToRaw(der: Uint8Array): Buffer {
  const { r, s } = decodeDerSignature(der);
  return encodeRawSignature(r, s);
}

/** r‖s (64 bytes) → DER. */
export function signatureRawToDer(raw: Uint8Array): Buffer {
  const { r, s } = decodeRawSignature(raw);
  return encodeDerSignature(r, s);
}
