import { type FontChoice, fenToChineseUpper, fenToFigures, fenToYuan, pdfBytes } from "@piaoju/locale";
import { pdfkitAddPlaceholder } from "@signpdf/placeholder-pdfkit";
import { SUBFILTER_ADOBE_PKCS7_DETACHED } from "@signpdf/utils";
import PDFDocument from "pdfkit";
import QRCode from "qrcode";
import type { ReceiptView } from "../domain/receipt.ts";
import { maskMiddle, qrText, shanghaiDateTime } from "../domain/receipt-text.ts";

/**
 * The receipt as an A4 page, laid out like the finance department's e-receipt (财政电子票据):
 * QR code top left, title with the finance supervision seal (监制章) over it, code / number /
 * check code / date top right, payer, the items table, the total in figures and in 大写,
 * remarks, the agency's seal (收款单位章), the handling person and checker.
 *
 * Deterministic: the same receipt gives the same bytes (creation date = issue time, no ids
 * or random subset tags; pdfkit derives the font subset's tag from its name), so a re-sent
 * PDF is byte-identical to the first and can be compared by hash.
 */
const A4: [number, number] = [595.28, 841.89];
const LEFT = 42;
const RIGHT = A4[0] - 42;
const WIDTH = RIGHT - LEFT;
const INK = "#1f1f1f";
const FORM = "#8b2e1f";
const SEAL = "#d0312d";

/**
 * The agency's digital signature field over its seal (收款单位章): the seal is the field's
 * visible appearance, and the signature dictionary waits for its /Contents (signed-pdf.ts).
 */
export interface PdfSealField {
  /** /Name: who signs (the agency, as its certificate names it). */
  signerName: string;
  /** /M: when it was signed; the CMS carries the same time. */
  signingTime: Date;
  /** Bytes reserved for the DER CMS (hex doubles it in the file). */
  contentsLength: number;
}

/** The signature's /Reason, /Location and /Prop_Build /App of every receipt. */
const SIGNATURE_REASON = "执收单位电子票据专用章";
const SIGNATURE_LOCATION = "中华人民共和国";

/**
 * The receipt's PDF. With `seal`, the agency's seal is drawn as the appearance of a signature
 * field (a widget over the seal area, printed) and the document carries the signature dictionary
 * with its /ByteRange and /Contents placeholders; without, the seal is drawn on the page.
 */
export async function renderReceiptPdf(
  r: ReceiptView,
  font: FontChoice,
  seal?: PdfSealField,
): Promise<Buffer> {
  const doc = new PDFDocument({
    size: A4,
    margin: 0,
    compress: true,
    info: {
      Title: `${r.billName} ${r.billCode}-${r.number}`,
      Subject: "财政电子票据",
      Author: r.agencyName ?? r.agencyCode,
      Creator: "Piaoju",
      Producer: "Piaoju delivery",
      CreationDate: r.supervisedAt,
      ModDate: r.supervisedAt,
    },
  });
  doc.registerFont("cjk", font.data ?? font.path, font.postscriptName);
  doc.font("cjk");
  const done = pdfBytes(doc);

  drawHeader(doc, r);
  const tableTop = drawPayer(doc, r, 176);
  const afterTable = drawItems(doc, r, tableTop);
  const afterTotals = drawTotals(doc, r, afterTable);
  drawSignatures(doc, r, afterTotals, seal);
  drawFooter(doc, r);

  doc.end();
  return done;
}

function drawHeader(doc: PDFKit.PDFDocument, r: ReceiptView): void {
  const { date, time } = shanghaiDateTime(r.issuedAt);
  drawQr(doc, qrText({ ...r, totalYuan: fenToYuan(r.totalFen) }), LEFT, 40, 86);

  drawOvalSeal(doc, A4[0] / 2, 58, 62, 36, "财政电子票据监制章", "财政部门");
  // A long province bill name shrinks to stay on one line between the QR code and the facts.
  doc.fontSize(19);
  const titleSize = Math.min(19, (19 * (WIDTH - 180)) / doc.widthOfString(r.billName));
  doc.fillColor(r.kind === "red" ? SEAL : FORM).fontSize(titleSize);
  doc.text(r.billName, LEFT + 90, 112, { width: WIDTH - 180, align: "center" });
  const lineY = 138;
  doc
    .strokeColor(FORM)
    .lineWidth(1.2)
    .moveTo(LEFT + 140, lineY)
    .lineTo(RIGHT - 140, lineY)
    .stroke();
  doc
    .lineWidth(0.5)
    .moveTo(LEFT + 140, lineY + 3)
    .lineTo(RIGHT - 140, lineY + 3)
    .stroke();

  const facts: Array<[string, string]> = [
    ["票据代码", r.billCode],
    ["票据号码", r.number],
    ["校 验 码", r.checkCode],
    ["开票日期", `${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6)} ${time}`],
  ];
  facts.forEach(([label, value], i) => {
    const y = 44 + i * 17;
    doc
      .fontSize(9)
      .fillColor(FORM)
      .text(`${label}：`, RIGHT - 170, y, { lineBreak: false });
    doc.fillColor(INK).text(value, RIGHT - 118, y, { lineBreak: false });
  });

  if (r.kind === "red") drawRedMark(doc, r);
  if (r.status === "PAPER_EXCHANGED" && r.paper) {
    doc.fontSize(9).fillColor(SEAL);
    doc.text(`已换开纸质票据 ${r.paper.billCode}-${r.paper.number}，本电子票据不再用于报销`, LEFT, 150, {
      width: WIDTH,
      align: "center",
    });
  }
  if (r.redFlush) {
    doc.fontSize(9).fillColor(SEAL);
    doc.text(`已冲红：红字票据 ${r.redFlush.billCode}-${r.redFlush.number}`, LEFT, 150, {
      width: WIDTH,
      align: "center",
    });
  }
}

function drawRedMark(doc: PDFKit.PDFDocument, r: ReceiptView): void {
  doc.save();
  doc
    .rect(LEFT + 96, 40, 56, 24)
    .lineWidth(1.5)
    .strokeColor(SEAL)
    .stroke();
  doc
    .fontSize(13)
    .fillColor(SEAL)
    .text("红 票", LEFT + 96, 45, { width: 56, align: "center" });
  doc.restore();
  if (r.related) {
    doc.fontSize(9).fillColor(SEAL);
    doc.text(`冲红原票据：代码 ${r.related.billCode} 号码 ${r.related.number}`, LEFT, 150, {
      width: WIDTH,
      align: "center",
    });
  }
}

function drawQr(doc: PDFKit.PDFDocument, text: string, x: number, y: number, size: number): void {
  const qr = QRCode.create(text, { errorCorrectionLevel: "M" });
  const cells = qr.modules.size;
  const cell = size / (cells + 2);
  doc.save().fillColor("#000000");
  for (let row = 0; row < cells; row++) {
    for (let col = 0; col < cells; col++) {
      if (qr.modules.get(row, col)) doc.rect(x + (col + 1) * cell, y + (row + 1) * cell, cell, cell);
    }
  }
  doc.fill().restore();
}

/**
 * What the receipt shows of the payer's code: a person's ID number masked in the middle (the
 * first 3 and last 4 kept, as on the H5 page), so a PDF that reaches the wrong hands does not
 * carry it; an organisation's credit code, public, in full. The full code stays in the signed
 * document, which the payer and verifiers check.
 */
export function printedPayerCode(payer: { type: number; code: string }): string {
  return payer.type === 2 ? payer.code : maskMiddle(payer.code, 3, 4);
}

/** Payer lines above the table; returns where the table starts. */
function drawPayer(doc: PDFKit.PDFDocument, r: ReceiptView, y: number): number {
  const codeLabel = r.payer.type === 2 ? "交款人统一社会信用代码" : "交款人证件号码";
  doc.fontSize(10);
  doc.fillColor(FORM).text(`${codeLabel}：`, LEFT, y, { lineBreak: false });
  doc
    .fillColor(INK)
    .text(printedPayerCode(r.payer), LEFT + doc.widthOfString(`${codeLabel}：`), y, { lineBreak: false });
  doc.fillColor(FORM).text("交款人：", A4[0] / 2 + 40, y, { lineBreak: false });
  doc
    .fillColor(INK)
    .text(r.payer.name, A4[0] / 2 + 85, y, { width: RIGHT - A4[0] / 2 - 85, lineBreak: false });
  return y + 20;
}

const COLUMNS: Array<{ title: string; width: number; align: "left" | "center" | "right" }> = [
  { title: "项目编码", width: 70, align: "center" },
  { title: "项目名称", width: 150, align: "left" },
  { title: "单位", width: 40, align: "center" },
  { title: "数量", width: 50, align: "right" },
  { title: "标准（元）", width: 66, align: "right" },
  { title: "金额（元）", width: 80, align: "right" },
  { title: "备注", width: 0, align: "left" },
];
COLUMNS[COLUMNS.length - 1]!.width = WIDTH - COLUMNS.reduce((s, c) => s + c.width, 0);
const ROW = 22;
const MIN_ROWS = 6;

function drawItems(doc: PDFKit.PDFDocument, r: ReceiptView, top: number): number {
  const rows = Math.max(MIN_ROWS, r.items.length);
  const bottom = top + ROW * (rows + 1);
  doc
    .lineWidth(0.8)
    .strokeColor(FORM)
    .rect(LEFT, top, WIDTH, bottom - top)
    .stroke();
  doc.lineWidth(0.4);
  let x = LEFT;
  for (const column of COLUMNS.slice(0, -1)) {
    x += column.width;
    doc.moveTo(x, top).lineTo(x, bottom).stroke();
  }
  for (let i = 1; i <= rows; i++)
    doc
      .moveTo(LEFT, top + ROW * i)
      .lineTo(RIGHT, top + ROW * i)
      .stroke();

  cellsOf(
    doc,
    top,
    FORM,
    COLUMNS.map((c) => ({ ...c, text: c.title, align: "center" as const })),
  );
  r.items.forEach((item, i) => {
    cellsOf(doc, top + ROW * (i + 1), INK, [
      { ...COLUMNS[0]!, text: item.itemCode },
      { ...COLUMNS[1]!, text: item.itemName },
      { ...COLUMNS[2]!, text: item.unit ?? "" },
      { ...COLUMNS[3]!, text: item.quantity },
      { ...COLUMNS[4]!, text: item.standardFen === undefined ? "" : fenToYuan(BigInt(item.standardFen)) },
      { ...COLUMNS[5]!, text: fenToYuan(BigInt(item.amountFen)) },
      { ...COLUMNS[6]!, text: "" },
    ]);
  });
  return bottom;
}

function cellsOf(
  doc: PDFKit.PDFDocument,
  y: number,
  color: string,
  cells: Array<{ text: string; width: number; align: "left" | "center" | "right" }>,
): void {
  doc.fontSize(9).fillColor(color);
  let x = LEFT;
  for (const cell of cells) {
    doc.text(cell.text, x + 4, y + 6.5, {
      width: cell.width - 8,
      align: cell.align,
      height: ROW - 6,
      ellipsis: true,
    });
    x += cell.width;
  }
}

function drawTotals(doc: PDFKit.PDFDocument, r: ReceiptView, top: number): number {
  const height = 26;
  doc.lineWidth(0.8).strokeColor(FORM).rect(LEFT, top, WIDTH, height).stroke();
  doc.rect(LEFT, top + height, WIDTH, 52).stroke();
  doc
    .fontSize(10)
    .fillColor(FORM)
    .text("金额合计（大写）", LEFT + 6, top + 8, { lineBreak: false });
  doc.fillColor(INK).text(fenToChineseUpper(r.totalFen), LEFT + 100, top + 8, { lineBreak: false });
  doc.fillColor(FORM).text("（小写）", RIGHT - 170, top + 8, { lineBreak: false });
  doc
    .fillColor(INK)
    .text(fenToFigures(r.totalFen), RIGHT - 125, top + 8, { width: 118, align: "right", lineBreak: false });

  const remarks = [
    `业务流水号：${r.bizSerialNo}`,
    r.payMode ? `缴款方式：${r.payMode}` : undefined,
    r.remark ? `备注：${r.remark}` : undefined,
    r.redFlush ? `冲红原因：${r.redFlush.reason}` : undefined,
  ].filter((line): line is string => line !== undefined);
  doc
    .fontSize(9)
    .fillColor(FORM)
    .text("其他信息", LEFT + 6, top + height + 6, { lineBreak: false });
  doc
    .fillColor(INK)
    .text(remarks.join("    "), LEFT + 60, top + height + 6, { width: WIDTH - 66, height: 44 });
  return top + height + 52;
}

function drawSignatures(
  doc: PDFKit.PDFDocument,
  r: ReceiptView,
  top: number,
  seal: PdfSealField | undefined,
): void {
  const y = top + 22;
  doc.fontSize(10).fillColor(FORM).text("收款单位（章）：", LEFT, y, { lineBreak: false });
  doc.fillColor(INK).text(r.agencyName ?? r.agencyCode, LEFT + 82, y, { lineBreak: false });
  const [cx, cy, radius] = [LEFT + 150, y + 8, 40];
  const drawSeal = () =>
    drawRoundSeal(doc, cx, cy, radius, r.agencyName ?? `执收单位 ${r.agencyCode}`, "票据专用章");
  if (seal)
    signatureField(doc, seal, [cx - radius - 3, cy - radius - 3, cx + radius + 3, cy + radius + 3], drawSeal);
  else drawSeal();
  doc
    .fontSize(10)
    .fillColor(FORM)
    .text("复核人：", A4[0] / 2 + 10, y, { lineBreak: false });
  doc.fillColor(INK).text(r.checker ?? "", A4[0] / 2 + 55, y, { lineBreak: false });
  doc.fillColor(FORM).text("收款人：", RIGHT - 120, y, { lineBreak: false });
  doc.fillColor(INK).text(r.handlingPerson, RIGHT - 75, y, { lineBreak: false });
}

function drawFooter(doc: PDFKit.PDFDocument, r: ReceiptView): void {
  doc.fontSize(7).fillColor("#666666");
  doc.text(`票据文件 SM3：${r.documentSm3}`, LEFT, A4[1] - 48, { width: WIDTH, lineBreak: false });
  doc.text(
    "本票据经执收单位 SM2 签名并经财政部门监制签名；可在财政电子票据查验平台或本单位取票页面查验真伪。",
    LEFT,
    A4[1] - 36,
    { width: WIDTH, lineBreak: false },
  );
}

/**
 * The signature field over `box` (top-left coordinates, as pdfkit draws): `draw` is captured
 * into a form XObject, the widget's normal appearance (/AP /N), instead of the page's content;
 * the XObject shares the page's resources (the embedded font subset, the opacity states) and
 * draws in the page's own coordinates, so its /BBox is the widget's /Rect and no /Matrix is needed.
 *
 * The signature dictionary, the AcroForm (SigFlags 3) and the widget come from
 * @signpdf/placeholder-pdfkit; it writes the widget without appearance or flags, so the one
 * `ref` it makes for the widget gets /F 4 (printed: the seal is on paper too) and /AP here.
 */
function signatureField(
  doc: PDFKit.PDFDocument,
  seal: PdfSealField,
  box: [number, number, number, number],
  draw: () => void,
): void {
  const [x0, top, x1, bottom] = box;
  const height = A4[1];
  const rect = [x0, height - bottom, x1, height - top];
  // pdfkit's page internals and ref(), which its types do not show
  const internals = doc as unknown as {
    page: { content: unknown; resources: unknown };
    ref(data: Record<string, unknown>): { write(s: string): void; end(): void };
  };
  const page = internals.page;
  const ref = (data: Record<string, unknown>) => internals.ref(data);
  const appearance = ref({ Type: "XObject", Subtype: "Form", BBox: rect, Resources: page.resources });
  const content = page.content;
  page.content = appearance;
  try {
    appearance.write(`1 0 0 -1 0 ${height} cm`);
    draw();
  } finally {
    page.content = content;
  }
  appearance.end();
  const pdf = new Proxy(doc, {
    get(target, key) {
      if (key === "ref") {
        return (data: Record<string, unknown>) =>
          ref(data?.Subtype === "Widget" ? { ...data, F: 4, AP: { N: appearance } } : data);
      }
      const value = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  pdfkitAddPlaceholder({
    pdf,
    pdfBuffer: Buffer.alloc(0),
    reason: SIGNATURE_REASON,
    contactInfo: "",
    name: seal.signerName,
    location: SIGNATURE_LOCATION,
    signingTime: seal.signingTime,
    signatureLength: seal.contentsLength,
    subFilter: SUBFILTER_ADOBE_PKCS7_DETACHED,
    widgetRect: rect,
    appName: "Piaoju",
  });
}

/** A round agency seal: ring, star, the name along the upper arc and the purpose beneath. */
function drawRoundSeal(
  doc: PDFKit.PDFDocument,
  cx: number,
  cy: number,
  radius: number,
  name: string,
  purpose: string,
): void {
  doc.save();
  doc.opacity(0.8).lineWidth(2).strokeColor(SEAL).circle(cx, cy, radius).stroke();
  star(doc, cx, cy, radius * 0.28);
  arcText(doc, name, cx, cy, radius - 11, 9, 220);
  doc
    .fontSize(7)
    .fillColor(SEAL)
    .text(purpose, cx - radius, cy + radius * 0.42, { width: radius * 2, align: "center" });
  doc.restore();
}

/** The supervision seal: an oval with the finance department's name, as printed over the title. */
function drawOvalSeal(
  doc: PDFKit.PDFDocument,
  cx: number,
  cy: number,
  rx: number,
  ry: number,
  text: string,
  by: string,
): void {
  doc.save();
  doc.opacity(0.75).lineWidth(1.6).strokeColor(SEAL).ellipse(cx, cy, rx, ry).stroke();
  doc
    .lineWidth(0.6)
    .ellipse(cx, cy, rx - 3.5, ry - 3.5)
    .stroke();
  doc
    .fontSize(9)
    .fillColor(SEAL)
    .text(text, cx - rx, cy - 12, { width: rx * 2, align: "center" });
  doc.fontSize(7).text(by, cx - rx, cy + 3, { width: rx * 2, align: "center" });
  doc.restore();
}

function star(doc: PDFKit.PDFDocument, cx: number, cy: number, r: number): void {
  const points: Array<[number, number]> = [];
  for (let i = 0; i < 10; i++) {
    const angle = -Math.PI / 2 + (i * Math.PI) / 5;
    const radius = i % 2 === 0 ? r : r * 0.4;
    points.push([cx + radius * Math.cos(angle), cy + radius * Math.sin(angle)]);
  }
  doc
    .polygon(...points)
    .fillColor(SEAL)
    .fill();
}

/** Writes `text` along the upper arc of a circle, centred on its top, spanning `sweep` degrees at most. */
function arcText(
  doc: PDFKit.PDFDocument,
  text: string,
  cx: number,
  cy: number,
  radius: number,
  maxSize: number,
  sweep: number,
): void {
  const chars = [...text];
  // Characters shrink to fit the arc, as a seal cutter would: about one em per step.
  const size = Math.min(maxSize, ((sweep / 360) * 2 * Math.PI * radius) / chars.length);
  const step = Math.min(sweep / Math.max(chars.length - 1, 1), 26);
  const start = -((chars.length - 1) * step) / 2;
  doc.fontSize(size).fillColor(SEAL);
  chars.forEach((ch, i) => {
    const angle = start + i * step;
    doc.save();
    doc.rotate(angle, { origin: [cx, cy] });
    doc.text(ch, cx - size / 2, cy - radius - size / 2, { width: size, align: "center", lineBreak: false });
    doc.restore();
  });
}

/**
 * Rendering is deterministic, so a PDF made for the e-mail serves the webhook and the pick-up
 * page too: the last few are kept, keyed by what changes the page (receipt and its state).
 */
export function cachedRenderer(
  render: (view: ReceiptView) => Promise<Buffer>,
  size: number,
): (view: ReceiptView) => Promise<Buffer> {
  const cache = new Map<string, Promise<Buffer>>();
  return (view) => {
    const key = `${view.receiptId}:${view.status}:${view.paper?.number ?? ""}`;
    const hit = cache.get(key);
    if (hit) {
      cache.delete(key);
      cache.set(key, hit);
      return hit;
    }
    const made = render(view);
    made.catch(() => cache.delete(key));
    cache.set(key, made);
    if (cache.size > size) cache.delete(cache.keys().next().value as string);
    return made;
  };
}
