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

/** Strict DER: exact lengths, minimal non-negative INTEGERs of at most 256 bits, nothing trailing. */
export function decodeDerSignature(der: Uint8Array): { r: bigint; s: bigint } {
  if (!(der instanceof Uint8Array)) throw badFormat("signature must be bytes");
  if (der.length < 8 || der.length > 72)
    throw badFormat(`DER signature of ${der.length} bytes (expected 8–72)`);
  if (der[0] !== 0x30 || der[1] !== der.length - 2) throw badFormat("not a DER SEQUENCE of the right length");
  let offset = 2;
  const readInteger = (): bigint => {
    if (der[offset] !== 0x02) throw badFormat("expected an INTEGER");
    const len = der[offset + 1]!;
    if (len < 1 || len > 33 || offset + 2 + len > der.length) throw badFormat("bad INTEGER length");
    const bytes = der.subarray(offset + 2, offset + 2 + len);
    if (bytes[0]! & 0x80) throw badFormat("negative INTEGER");
    if (len > 1 && bytes[0] === 0 && !(bytes[1]! & 0x80)) throw badFormat("non-minimal INTEGER encoding");
    if (len === 33 && bytes[0] !== 0) throw badFormat("INTEGER wider than 256 bits");
    offset += 2 + len;
    return bigintFromBytes(bytes);
  };
  const r = readInteger();
  const s = readInteger();
  if (offset !== der.length) throw badFormat("trailing bytes after the signature");
  return { r, s };
}

export function decodeRawSignature(raw: Uint8Array): { r: bigint; s: bigint } {
  if (!(raw instanceof Uint8Array) || raw.length !== 64) {
    throw badFormat(
      `raw signature must be 64 bytes (r‖s), got ${raw instanceof Uint8Array ? raw.length : typeof raw}`,
    );
  }
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
