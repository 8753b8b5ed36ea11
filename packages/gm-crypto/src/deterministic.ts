/**
 * TEST-ONLY: SM2 signing with a caller-chosen nonce k, to reproduce published vectors whose k is
 * fixed. Pure bigint point arithmetic (slow, not constant-time). Never use a chosen k in
 * production: a repeated or predictable k reveals the private key. Not exported from index.ts.
 */
import { G, invert, multiplyReference, N, type Point } from "./curve.ts";
import { signWithNonce } from "./signature.ts";

export function signDigestWithNonce(e: bigint, d: bigint, k: bigint): { r: bigint; s: bigint } {
  const kG = multiplyReference(k, G) as Point;
  const rs = signWithNonce(e, d, k, kG.x, invert(1n + d, N));
  if (!rs) throw new Error("this k gives r = 0, r + k = n or s = 0; the standard draws another k");
  return { r: rs[0], s: rs[1] };
}
