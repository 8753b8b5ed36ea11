import { randomUUID } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import {
  AgencyCaPublished,
  createEnvelope,
  type Envelope,
  FinanceCertificatePublished,
  ReceiptIssued,
  ReceiptPaperExchanged,
  ReceiptRedFlushed,
} from "@piaoju/contracts";
import { type Certificate, createSignedData, DevCa, Sm2PrivateKey, sm3 } from "@piaoju/gm-crypto";
import { type ParsedMail, simpleParser } from "mailparser";
import { SMTPServer } from "smtp-server";
import type { z } from "zod";

export const AGENCY = "110105001";
export const SECRETS_KEY = "00112233445566778899aabbccddeeff";

type IssuedData = z.infer<typeof ReceiptIssued.schema>;

/** Signers as issuance and finance would have them: a dev CA, an agency key, a finance key. */
export async function makeSigners() {
  const ca = await DevCa.create({ name: "Delivery Test CA" });
  const agencyKey = Sm2PrivateKey.generate();
  const financeKey = Sm2PrivateKey.generate();
  const agencyCert = ca.issue({
    subject: { commonName: "北京市公安局出入境管理总队" },
    publicKey: agencyKey.publicKey,
    usage: "sign",
  });
  const financeCert = ca.issue({
    subject: { commonName: "北京市财政局" },
    publicKey: financeKey.publicKey,
    usage: "sign",
  });
  return {
    ca,
    agencyCert,
    financeCert,
    sign(document: Buffer) {
      return {
        agencySignature: createSignedData({
          content: document,
          detached: true,
          signerKey: agencyKey,
          signerCert: agencyCert,
        }).toString("base64"),
        financeSignature: createSignedData({
          content: document,
          detached: true,
          signerKey: financeKey,
          signerCert: financeCert,
        }).toString("base64"),
      };
    },
  };
}

export type Signers = Awaited<ReturnType<typeof makeSigners>>;

function published(cert: Certificate) {
  return {
    pem: cert.toPem(),
    sm3: cert.fingerprintSm3(),
    subject: cert.subject.text,
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
  };
}

/**
 * What the owners publish of these signers: the agency CA (as the signing gateway does) and
 * finance's supervision certificate (as finance-exchange does).
 */
export function trustEnvelopes(signers: Signers): Envelope[] {
  const publishedAt = new Date().toISOString();
  return [
    createEnvelope(
      AgencyCaPublished,
      { certificate: published(signers.ca.certificate), publishedAt },
      { producer: "signing-gateway" },
    ),
    createEnvelope(
      FinanceCertificatePublished,
      { role: "supervision", certificate: published(signers.financeCert), publishedAt },
      { producer: "finance-exchange" },
    ),
  ];
}

/** An issued receipt as issuance would publish it: document, agency and finance signatures. */
export function issuedReceipt(
  signers: Signers,
  over: Partial<IssuedData> & { number: string; bizSerialNo: string },
): IssuedData {
  const base = {
    receiptId: randomUUID(),
    agencyCode: AGENCY,
    kind: "blue" as const,
    billCode: "11010126",
    issuingPointCode: "WIN-01",
    checkCode: "482913",
    issuedAt: "2026-11-30T02:15:00.000Z",
    supervisedAt: "2026-11-30T02:15:03.000Z",
    totalFen: 16050,
    payer: {
      type: 1 as const,
      code: "110101199003074514",
      name: "王小明",
      phone: "13800138000",
      email: "wang@example.test",
    },
    items: [
      {
        itemCode: "103040101",
        itemName: "普通护照工本费",
        unit: "本",
        quantity: "1",
        standardFen: 12000,
        amountFen: 12000,
      },
      {
        itemCode: "103040105",
        itemName: "往来港澳通行证签注费",
        unit: "次",
        quantity: "3",
        standardFen: 1350,
        amountFen: 4050,
      },
    ],
    handlingPerson: "李收费",
    checker: "赵复核",
    ...over,
  };
  const xml =
    `<?xml version="1.0" encoding="UTF-8"?><EInvoice><Header><EInvoiceTag>CZ-EI-11</EInvoiceTag></Header>` +
    `<EInvoiceData><Main><EInvoiceName>北京市非税收入统一票据（电子）</EInvoiceName><EInvoiceCode>${base.billCode}</EInvoiceCode>` +
    `<EInvoiceNumber>${base.number}</EInvoiceNumber><InvoicingParty><InvoicingPartyCode>${base.agencyCode}</InvoicingPartyCode>` +
    `<InvoicingPartyName>北京市公安局出入境管理总队</InvoicingPartyName></InvoicingParty><PayMode>支付宝</PayMode>` +
    (base.kind === "red"
      ? "<RelatedInvoiceCode>11010126</RelatedInvoiceCode><RelatedInvoiceNumber>0000012345</RelatedInvoiceNumber>"
      : "") +
    `</Main></EInvoiceData></EInvoice>`;
  const document = Buffer.from(xml, "utf8");
  return {
    ...base,
    document: document.toString("base64"),
    documentSm3: sm3(document).toString("hex"),
    ...signers.sign(document),
  };
}

export function issuedEnvelope(data: IssuedData): Envelope {
  return createEnvelope(ReceiptIssued, data, { producer: "issuance" });
}

export function redFlushedEnvelope(original: IssuedData, red: IssuedData): Envelope {
  return createEnvelope(
    ReceiptRedFlushed,
    {
      receiptId: original.receiptId,
      agencyCode: original.agencyCode,
      billCode: original.billCode,
      number: original.number,
      redReceiptId: red.receiptId,
      redBillCode: red.billCode,
      redNumber: red.number,
      reason: "退费",
      redFlushedAt: "2026-11-30T03:00:00.000Z",
    },
    { producer: "issuance" },
  );
}

export function paperExchangedEnvelope(receipt: IssuedData, returned: boolean): Envelope {
  return createEnvelope(
    ReceiptPaperExchanged,
    {
      receiptId: receipt.receiptId,
      agencyCode: receipt.agencyCode,
      billCode: receipt.billCode,
      number: receipt.number,
      paperBillCode: "11020126",
      paperNumber: "0000000777",
      returned,
      at: "2026-11-30T04:00:00.000Z",
    },
    { producer: "issuance" },
  );
}

/** A real SMTP server on a loopback port that keeps every message it accepts, parsed. */
export async function startSmtpSink(): Promise<{ url: string; mails: ParsedMail[]; stop(): Promise<void> }> {
  const mails: ParsedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    onData(stream, _session, callback) {
      simpleParser(stream).then(
        (mail) => {
          mails.push(mail);
          callback();
        },
        (error: Error) => callback(error),
      );
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    mails,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface Received {
  headers: IncomingHttpHeaders;
  body: Buffer;
  at: number;
}

/** An HTTP receiver (webhook, SMS gateway) that answers with the status `answer` decides. */
export async function startReceiver(
  answer: (received: Received, index: number) => number = () => 200,
): Promise<{ url: string; received: Received[]; stop(): Promise<void> }> {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const entry = { headers: req.headers, body: Buffer.concat(chunks), at: Date.now() };
      received.push(entry);
      res.writeHead(answer(entry, received.length - 1), { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    received,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Polls until `probe` returns a value, or fails after `ms`. */
export async function eventually<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  ms = 30_000,
): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Each side signed under a CA of its own, as 查验 must tell them apart: the agency's certificate
 * from an agency CA, finance's from a finance CA; `sign` makes a detached SM2 PKCS#7 (base64).
 */
export async function twoSidedSigners(agencyName = "agency") {
  const agencyCa = await DevCa.create({ name: "agency CA" });
  const financeCa = await DevCa.create({ name: "finance CA" });
  const agencyKey = Sm2PrivateKey.generate();
  const financeKey = Sm2PrivateKey.generate();
  const agencyCert = agencyCa.issue({
    subject: { commonName: agencyName },
    publicKey: agencyKey.publicKey,
    usage: "sign",
  });
  const financeCert = financeCa.issue({
    subject: { commonName: "finance" },
    publicKey: financeKey.publicKey,
    usage: "sign",
  });
  const sign = (side: "agency" | "finance", content: Buffer) =>
    createSignedData({
      content,
      detached: true,
      signerKey: side === "agency" ? agencyKey : financeKey,
      signerCert: side === "agency" ? agencyCert : financeCert,
    }).toString("base64");
  return { agencyCa, financeCa, agencyCert, financeCert, sign };
}
