import ExcelJS from "exceljs";
import { describe, expect, it } from "vitest";
import { dueBusinessDay } from "./dayend.ts";
import { statementCsv, statementXlsx, type UnifiedStatement } from "./statement.ts";

const statement: UnifiedStatement = {
  agencyCode: "230105",
  businessDay: "2026-12-02",
  entries: [
    {
      channel: "alipay",
      type: "payment",
      at: "2026-12-02T01:00:00.000Z",
      bizSerialNo: 'JJ,"1"',
      paymentCode: "23010026000000000017",
      decisionNo: "230105100012345",
      orderId: "P1",
      channelTradeNo: "2026120222001",
      amountFen: 20050,
      receiptNumber: "0000000001",
      status: "MATCHED",
    },
    {
      channel: "wechat",
      type: "refund",
      at: "2026-12-02T15:59:59.000Z",
      bizSerialNo: "JJ-2",
      paymentCode: "23010026000000000025",
      orderId: "P2",
      channelTradeNo: "4200",
      refundId: "R2",
      amountFen: 5000,
      status: "AMOUNT",
    },
  ],
  totals: [
    {
      channel: "alipay",
      payments: 1,
      collectedFen: 20050,
      refunds: 0,
      refundedFen: 0,
      netFen: 20050,
      differences: 0,
    },
    {
      channel: "wechat",
      payments: 0,
      collectedFen: 0,
      refunds: 1,
      refundedFen: 5000,
      netFen: -5000,
      differences: 1,
    },
  ],
  receiptDifferences: 2,
};

describe("the unified statement's files", () => {
  it("writes CSV in UTF-8 with a BOM, quoted where needed, refunds negative, Shanghai times", () => {
    const bytes = statementCsv(statement);
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const lines = bytes.subarray(3).toString("utf8").split("\r\n");
    expect(lines[1]).toMatch(/^渠道,类型,时间,业务流水号,/);
    expect(lines[2]).toBe(
      '支付宝,缴款,2026-12-02 09:00:00,"JJ,""1""",23010026000000000017,230105100012345,P1,2026120222001,,200.50,,0000000001,MATCHED',
    );
    expect(lines[3]).toBe(
      "微信支付,退付,2026-12-02 23:59:59,JJ-2,23010026000000000025,,P2,4200,R2,-50.00,,,AMOUNT",
    );
    expect(lines).toContain("微信支付,0,0.00,1,50.00,-50.00,1");
  });

  it("writes xlsx with the lines as numbers in yuan and the totals per channel", async () => {
    const book = new ExcelJS.Workbook();
    await book.xlsx.load(Uint8Array.from(await statementXlsx(statement)).buffer);
    const lines = book.getWorksheet("对账明细")!;
    expect(lines.getRow(3).getCell(10).value).toBe(200.5);
    expect(lines.getRow(4).getCell(10).value).toBe(-50);
    expect(book.getWorksheet("渠道汇总")!.getRow(3).values).toEqual([
      undefined,
      "微信支付",
      0,
      0,
      1,
      50,
      -50,
      1,
    ]);
  });
});

describe("when the day-end is due", () => {
  it("is the previous Asia/Shanghai day, from midnight + the configured delay", () => {
    // 2026-12-03 01:59 and 02:00 in Shanghai (UTC+8), with the run at 02:00.
    expect(dueBusinessDay(new Date("2026-12-02T17:59:59Z"), 120)).toBeUndefined();
    expect(dueBusinessDay(new Date("2026-12-02T18:00:00Z"), 120)).toBe("2026-12-02");
    expect(dueBusinessDay(new Date("2026-12-03T15:59:59Z"), 120)).toBe("2026-12-02");
    expect(dueBusinessDay(new Date("2026-12-03T16:00:00Z"), 0)).toBe("2026-12-03");
  });
});
