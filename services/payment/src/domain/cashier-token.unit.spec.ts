import { randomBytes, randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { cashierKey, cashierToken, openCashierToken } from "./cashier-token.ts";

describe("the cashier's token", () => {
  const key = cashierKey(randomBytes(16));

  it("opens to the payment it was made for, and is 43 base64url characters", () => {
    const id = randomUUID();
    const token = cashierToken(key, id);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(openCashierToken(key, token)).toBe(id);
  });

  it("is refused when any one character is changed, under another key, or for another id's MAC", () => {
    const id = randomUUID();
    const token = cashierToken(key, id);
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let tried = 0;
    for (let i = 0; i < token.length; i++) {
      for (const c of alphabet) {
        if (c === token[i]) continue;
        const altered = `${token.slice(0, i)}${c}${token.slice(i + 1)}`;
        expect(openCashierToken(key, altered), altered).toBeUndefined();
        tried++;
      }
    }
    expect(tried).toBe(43 * 63);
    expect(openCashierToken(cashierKey(randomBytes(16)), token)).toBeUndefined();
    const other = cashierToken(key, randomUUID());
    expect(openCashierToken(key, `${token.slice(0, 22)}${other.slice(22)}`)).toBeUndefined();
  });

  it("is refused in any other shape: the id itself, too short, too long, other characters", () => {
    const id = randomUUID();
    const token = cashierToken(key, id);
    for (const wrong of [
      id,
      "",
      token.slice(1),
      `${token}A`,
      `${token.slice(0, 42)}=`,
      `${token.slice(0, 42)}+`,
    ]) {
      expect(openCashierToken(key, wrong), wrong).toBeUndefined();
    }
  });

  it("derives a key of its own from the secret (never the sealing key itself), the same one each time", () => {
    const secret = randomBytes(16);
    expect(cashierKey(secret).equals(secret)).toBe(false);
    expect(cashierKey(secret).equals(cashierKey(secret))).toBe(true);
  });
});
