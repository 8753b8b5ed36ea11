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
