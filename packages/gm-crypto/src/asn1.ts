/** Thin, strict helpers over asn1js (a real ASN.1 library) for the structures this package reads. */
import * as asn1js from "asn1js";

export const OID_EC_PUBLIC_KEY = "1.2.840.10045.2.1";
export const OID_SM2_CURVE = "1.2.156.10197.1.301";

/** Parses exactly one BER/DER element that spans the whole input; null otherwise. */
export function parseAsn1(bytes: Uint8Array): asn1js.AsnType | null {
  if (bytes.length === 0) return null;
  try {
    // asn1js reports most malformations in `error`, but throws on some (a bad GeneralizedTime).
    const parsed = asn1js.fromBER(bytes, { maxDepth: 8, maxNodes: 64 });
    if (parsed.offset !== bytes.length || parsed.result.error !== "") return null;
    return parsed.result;
  } catch {
    return null;
  }
}

export function asSequence(node: unknown, length?: number): asn1js.BaseBlock[] | null {
  if (!(node instanceof asn1js.Sequence)) return null;
  const items = node.valueBlock.value;
  if (length !== undefined && items.length !== length) return null;
  return items;
}

/** A non-negative INTEGER's value, or null (negative integers are refused). */
export function asUnsignedInteger(node: unknown): bigint | null {
  if (!(node instanceof asn1js.Integer)) return null;
  const v = node.toBigInt();
  return v < 0n ? null : v;
}

/** The content of a primitive OCTET STRING (constructed BER strings are refused). */
export function asOctets(node: unknown): Uint8Array | null {
  if (!(node instanceof asn1js.OctetString) || node.idBlock.isConstructed) return null;
  return node.valueBlock.valueHexView;
}

export function asOid(node: unknown): string | null {
  return node instanceof asn1js.ObjectIdentifier ? node.getValue() : null;
}

export function toDer(block: asn1js.BaseBlock): Buffer {
  return Buffer.from(block.toBER(false));
}
