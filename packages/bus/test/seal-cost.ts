// The cost of sealing and opening one event's personal fields: `node --import tsx packages/bus/test/seal-cost.ts`.
import { randomUUID } from "node:crypto";
import { createEnvelope, events } from "@piaoju/contracts";
import { Keyring } from "@piaoju/sealing";
import { installEventSealing, openEvent, sealEvent } from "../src/sealed-events.ts";

installEventSealing(Keyring.parse("00112233445566778899aabbccddeeff"));
const document = Buffer.from(`<EInvoice>${"<Item>工本费</Item>".repeat(120)}</EInvoice>`).toString("base64");
const event = createEnvelope(
  events.ReceiptIssued,
  {
    receiptId: randomUUID(),
    agencyCode: "110101",
    billCode: "11010126",
    number: "0000000001",
    kind: "blue",
    bizSerialNo: "S-1",
    issuingPointCode: "P01",
    checkCode: "123456",
    issuedAt: "2026-12-04T08:00:00.000Z",
    supervisedAt: "2026-12-04T08:00:01.000Z",
    totalFen: 1000,
    payer: { type: 1, code: "11010119900307123X", name: "欧阳秋菊", phone: "13912345678" },
    items: [{ itemCode: "001", itemName: "工本费", quantity: "1", amountFen: 1000 }],
    remark: "备注",
    handlingPerson: "li.si",
    document,
    documentSm3: "0".repeat(64),
    agencySignature: Buffer.alloc(1200, 1).toString("base64"),
    financeSignature: Buffer.alloc(1200, 2).toString("base64"),
  },
  { producer: "issuance" },
);
const N = 2000;
for (let i = 0; i < 200; i++) openEvent(sealEvent(event));
let t = process.hrtime.bigint();
let sealed = event;
for (let i = 0; i < N; i++) sealed = sealEvent(event);
const sealUs = Number(process.hrtime.bigint() - t) / 1000 / N;
t = process.hrtime.bigint();
for (let i = 0; i < N; i++) openEvent(sealed);
const openUs = Number(process.hrtime.bigint() - t) / 1000 / N;
const size = (e: unknown) => Buffer.byteLength(JSON.stringify(e));
console.log(
  `ReceiptIssued with a ${Buffer.from(document, "base64").length}-byte document: seal ${sealUs.toFixed(0)} µs, open ${openUs.toFixed(0)} µs per event; envelope ${size(event)} → ${size(sealed)} bytes`,
);
