/**
 * Reads what the reports need from a receipt's document (the XML issuance built and the agency
 * signed, carried by issuance.ReceiptRequested): the payer, the handling person, the lines.
 * The document is issuance's own output (flat elements, no attributes or CDATA, escaped text),
 * so a scan of its elements is exact; it is the one record of a receipt that never became formal.
 */
export interface DocumentLine {
  itemCode: string;
  itemName: string;
  quantity: string;
  amountFen: bigint;
}

export interface ReceiptDocumentFacts {
  payer: { type: number; code: string; name: string };
  handlingPerson: string;
  lines: DocumentLine[];
}

export class UnreadableDocumentError extends Error {
  constructor(missing: string) {
    super(`the receipt document has no ${missing}`);
    this.name = "UnreadableDocumentError";
  }
}

export function readReceiptDocument(xml: string): ReceiptDocumentFacts {
  const lines = [...xml.matchAll(/<Item>(.*?)<\/Item>/gs)].map(([, item]) => ({
    itemCode: required(item!, "ItemCode"),
    itemName: required(item!, "ItemName"),
    quantity: element(item!, "ItemQuantity") ?? "1",
    amountFen: yuanToFen(required(item!, "ItemAmount")),
  }));
  return {
    payer: {
      type: Number(required(xml, "PayerPartyType")),
      code: required(xml, "PayerPartyCode"),
      name: required(xml, "PayerPartyName"),
    },
    handlingPerson: required(xml, "HandlingPerson"),
    lines,
  };
}

/** "-120.50" → -12050n. The document writes money with exactly two decimals. */
export function yuanToFen(yuan: string): bigint {
  const m = /^(-?)(\d+)\.(\d{2})$/.exec(yuan.trim());
  if (!m) throw new UnreadableDocumentError(`amount in yuan (got "${yuan}")`);
  const fen = BigInt(m[2]!) * 100n + BigInt(m[3]!);
  return m[1] ? -fen : fen;
}

function element(xml: string, name: string): string | undefined {
  const m = new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml);
  return m ? unescapeXml(m[1]!) : undefined;
}

function required(xml: string, name: string): string {
  const value = element(xml, name);
  if (value === undefined) throw new UnreadableDocumentError(name);
  return value;
}

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

function unescapeXml(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|apos);/g, (_, e: string) => ENTITIES[e]!);
}
