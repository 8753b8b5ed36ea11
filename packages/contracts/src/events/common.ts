import { z } from "zod";

/** 票据代码: province (2) + category (2) + kind (2) + year (2). */
export const billCode = z.string().regex(/^\d{8}$/, "a bill code is 8 digits");
/** 票据号码: 10 digits, sequential within the stock finance issued. */
export const billNumber = z.string().regex(/^\d{10}$/, "a bill number is 10 digits");
/** Agency (执收单位) code as registered with finance. */
export const agencyCode = z.string().regex(/^[0-9A-Za-z]{1,32}$/, "an agency code is 1-32 letters or digits");
export const isoTime = z.iso.datetime({ offset: true });

/** A closed range of bill numbers, start <= end, both 10 digits. */
export const numberRange = z
  .object({ startNumber: billNumber, endNumber: billNumber })
  .refine((r) => r.startNumber <= r.endNumber, {
    message: "startNumber must not exceed endNumber",
    path: ["endNumber"],
  });

/** An SM3 digest in lower-case hex. */
export const sm3Hex = z.string().regex(/^[0-9a-f]{64}$/, "an SM3 digest is 64 lower-case hex digits");
/** 蓝票 (a normal receipt) or 红票 (the negative receipt that red-flushes one). */
export const receiptKind = z.enum(["blue", "red"]);

/**
 * A certificate the platform publishes as one it trusts (信任证书): the PEM and what a reader
 * checks it by. Consumers keep the latest per `sm3`; publishing one again changes nothing.
 */
export const publishedCertificate = z.object({
  /** One PEM block, "-----BEGIN CERTIFICATE-----" … */
  pem: z
    .string()
    .max(16_000)
    .regex(
      /^-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----\r?\n?$/,
      "one PEM certificate",
    ),
  /** SM3 of the certificate's DER, lower-case hex (its fingerprint). */
  sm3: sm3Hex,
  subject: z.string().min(1).max(1000),
  notBefore: isoTime,
  notAfter: isoTime,
});
