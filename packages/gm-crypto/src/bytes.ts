/** Byte helpers shared by the modules. Internal: not exported from the package. */

export type BytesLike = Uint8Array | string;

/** Strings are UTF-8 (that is how GM/T user IDs and text messages are hashed). */
export function toBuffer(data: BytesLike): Buffer {
  if (typeof data === "string") return Buffer.from(data, "utf8");
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

export function bigintFromBytes(bytes: Uint8Array): bigint {
  if (bytes.length === 0) return 0n;
  return BigInt(`0x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex")}`);
}

/** Big-endian, left-padded to `length` bytes. The caller guarantees the value fits. */
export function bigintToBytes(value: bigint, length = 32): Buffer {
  const hex = value.toString(16).padStart(length * 2, "0");
  return Buffer.from(hex, "hex");
}

export function isHex(text: string): boolean {
  return text.length % 2 === 0 && /^[0-9a-fA-F]*$/.test(text);
}
