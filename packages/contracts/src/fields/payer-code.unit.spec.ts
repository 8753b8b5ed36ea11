import { describe, expect, it } from "vitest";
import { idCardCheckChar, payerCodeProblem, usccCheckChar } from "./rules.ts";

describe("payer codes", () => {
  it("accepts a person's ID card number whose check character matches (X included)", () => {
    expect(payerCodeProblem(1, "11010519491231002X")).toBeUndefined();
    expect(payerCodeProblem(1, "440304199001011233")).toBeUndefined();
    expect(idCardCheckChar("11010519491231002")).toBe("X");
  });

  it("refuses an ID card number with a wrong check character, a bad birth date or a bad shape", () => {
    expect(payerCodeProblem(1, "110105194912310021")).toMatch(/check character/);
    expect(payerCodeProblem(1, "110105194913310024")).toMatch(/birth date/);
    expect(payerCodeProblem(1, "11010519491231002x")).toMatch(/17 digits/);
    expect(payerCodeProblem(1, "91350100M000100Y43")).toMatch(/17 digits/);
  });

  it("accepts an organisation's unified social credit code whose check character matches", () => {
    expect(payerCodeProblem(2, "91350100M000100Y43")).toBeUndefined();
    expect(usccCheckChar("91350100M000100Y4")).toBe("3");
  });

  it("refuses a unified social credit code with a wrong check character or a forbidden letter", () => {
    expect(payerCodeProblem(2, "91350100M000100Y44")).toMatch(/check character/);
    expect(payerCodeProblem(2, "91350100M000100I43")).toMatch(/except I, O, S, V, Z/);
    expect(payerCodeProblem(2, "11010519491231002X")).toMatch(/check character|except/);
  });
});
