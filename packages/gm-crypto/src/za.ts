import { createHash } from "node:crypto";
import { type BytesLike, bigintToBytes, toBuffer } from "./bytes.ts";
import { A, B, GX, GY } from "./curve.ts";
import { GmCryptoError } from "./errors.ts";

/** The GM/T 0009 default distinguishing identifier: the ASCII bytes "1234567812345678". */
export const DEFAULT_USER_ID = "1234567812345678";

const CURVE_PART = Buffer.concat([bigintToBytes(A), bigintToBytes(B), bigintToBytes(GX), bigintToBytes(GY)]);

/** ENTL is 16 bits of *bit* length, so an ID has at most 8191 bytes. */
export const MAX_USER_ID_BYTES = 8191;

export function userIdBytes(userId: BytesLike | undefined): Buffer {
  const id = toBuffer(userId ?? DEFAULT_USER_ID);
  if (id.length > MAX_USER_ID_BYTES) {
    throw new GmCryptoError("BAD_INPUT", `SM2 user ID is ${id.length} bytes; at most ${MAX_USER_ID_BYTES}`);
  }
  return id;
}

/**
 * Z_A = SM3(ENTL_A ‖ ID_A ‖ a ‖ b ‖ x_G ‖ y_G ‖ x_A ‖ y_A) (GM/T 0003.2 §5.5), where `publicKey`
 * is 04‖x_A‖y_A.
 */
export function computeZa(publicKey65: Buffer, id: Buffer): Buffer {
  const entl = Buffer.alloc(2);
  entl.writeUInt16BE(id.length * 8);
  return createHash("sm3")
    .update(entl)
    .update(id)
    .update(CURVE_PART)
    .update(publicKey65.subarray(1))
    .digest();
}
