import { describe, expect, it } from "vitest";
import { parseCookies } from "./console.ts";

describe("the console's cookie reader", () => {
  it("reads what the gateway set, and never throws on what a caller sends", () => {
    expect(parseCookies("piaoju_session=abc; piaoju_csrf=a%2Bb")).toEqual({
      piaoju_session: "abc",
      piaoju_csrf: "a+b",
    });
    // Percent-encoding that does not decode is kept as sent: it then matches no session.
    expect(parseCookies("piaoju_session=%E0%A4%A; x=%")).toEqual({ piaoju_session: "%E0%A4%A", x: "%" });
    expect(parseCookies("piaoju_session=%FF%FE")).toEqual({ piaoju_session: "%FF%FE" });
    expect(parseCookies(undefined)).toEqual({});
    expect(parseCookies("=; ;;piaoju_session")).toEqual({});
    for (const header of ["%", "a=%", "a=%%", "a=%u0041", "a=%D8%00", "a=b=c;;=;", "\u0000=\u0000"]) {
      expect(() => parseCookies(header), header).not.toThrow();
    }
  });
});
