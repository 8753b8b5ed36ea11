/**
 * The bytes of a PDF document being written (pdfkit's PDFDocument is a readable stream): resolves
 * once the document has ended. Call it before `doc.end()`, so no chunk is missed.
 */
export function pdfBytes(doc: {
  on(event: "data", listener: (chunk: Buffer) => void): unknown;
  on(event: "end", listener: () => void): unknown;
  on(event: "error", listener: (error: Error) => void): unknown;
}): Promise<Buffer> {
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    doc.on("data", (c: Buffer) => chunks.push(c));
    doc.on("end", () => resolve(Buffer.concat(chunks)));
    doc.on("error", reject);
  });
}
