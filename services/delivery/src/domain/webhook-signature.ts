import { hmacSm3, sm3 } from "@piaoju/gm-crypto";

/**
 * How Piaoju signs what it pushes to a business system (the receiving side checks it the same
 * way), mirroring the business API's own scheme:
 *
 *   string to sign = "POST" "\n" TIMESTAMP "\n" DELIVERY_ID "\n" hex(SM3(body))
 *   signature      = hex(HMAC-SM3(webhookSecret, string to sign))
 *
 * sent as X-Piaoju-Timestamp (Unix ms), X-Piaoju-Delivery (the delivery's id: the same on
 * every try, so the receiver can drop duplicates) and X-Piaoju-Signature.
 */
export function webhookStringToSign(timestamp: string, deliveryId: string, body: Uint8Array): string {
  return ["POST", timestamp, deliveryId, sm3(body).toString("hex")].join("\n");
}

export function signWebhook(secret: string, timestamp: string, deliveryId: string, body: Uint8Array): string {
  return hmacSm3(Buffer.from(secret, "utf8"), webhookStringToSign(timestamp, deliveryId, body)).toString(
    "hex",
  );
}
