import { Keyring, Sealer } from "@piaoju/sealing";
import { describe, expect, it } from "vitest";
import { chainHash, GENESIS_HASH } from "../domain/audit-chain.ts";
import { maskPersonal, sealPersonal, storableJson } from "./audit.ts";

const sealer = new Sealer(Keyring.parse("00112233445566778899aabbccddeeff"));
const other = new Sealer(Keyring.parse("ffeeddccbbaa99887766554433221100"));

/** A console request as the proxy audits it: a clerk's receipt, a saved payer, nested in arrays. */
const request = {
  request: {
    issuingPointCode: "WIN-01",
    payer: { type: 1, code: "11010519491231002X", name: "张三丰", phone: "13800138000" },
    items: [{ itemCode: "001", quantity: "1", amountFen: 12000 }],
    remark: "代办人 李四",
    people: [{ idNumber: "110101199003074514", email: "li.si@example.cn" }],
  },
  response: { id: "r-1", status: "REQUESTED" },
};
const CLEAR = [
  "11010519491231002X",
  "张三丰",
  "13800138000",
  "李四",
  "110101199003074514",
  "li.si@example.cn",
];

describe("the audit log keeps a person's request without the payer in clear", () => {
  it("seals every value under a personal key, wherever it is nested, and leaves the rest as it was", () => {
    const stored = sealPersonal(sealer, storableJson(request)) as typeof request;
    const text = JSON.stringify(stored);
    for (const clear of CLEAR) expect(text).not.toContain(clear);
    expect(stored.request.issuingPointCode).toBe("WIN-01");
    expect(stored.request.items).toEqual(request.request.items);
    expect(stored.response).toEqual(request.response);
    expect(String(stored.request.payer)).toMatch(/^sealed:/);
    // The chain hashes what is stored: the same stored entry hashes the same way.
    const record = {
      seq: 1n,
      at: new Date(0),
      actor: "clerk",
      address: "127.0.0.1",
      action: "POST",
      subject: "/v1/receipts",
      outcome: "201",
      before: null,
      after: stored,
    };
    expect(chainHash(GENESIS_HASH, record)).toBe(
      chainHash(GENESIS_HASH, { ...record, after: JSON.parse(text) }),
    );
  });

  it("shows an auditor each sealed value opened and masked, and one that does not open as such", () => {
    const stored = sealPersonal(sealer, storableJson(request));
    const shown = maskPersonal(sealer, stored) as typeof request;
    expect(shown.request.payer).toEqual({
      type: 1,
      code: "1*************002X",
      name: "张**",
      phone: "1********00",
    });
    expect(shown.request.people[0]?.idNumber).toBe("1*************4514");
    for (const clear of CLEAR) expect(JSON.stringify(shown)).not.toContain(clear);
    expect((maskPersonal(other, stored) as typeof request).request.payer).toBe(
      "(sealed; does not open under the configured keys)",
    );
  });
});
