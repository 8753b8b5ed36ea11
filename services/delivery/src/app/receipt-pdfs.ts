import { createCmsDetached, sm3, verifySignedData } from "@piaoju/gm-crypto";
import type { FontChoice } from "@piaoju/locale";
import { AppError } from "@piaoju/runtime";
import { Signer, SignPdf } from "@signpdf/signpdf";
import type { ReceiptView } from "../domain/receipt.ts";
import type { PrismaClient } from "../generated/prisma/client.ts";
import { type PdfSigning, PdfSigningError } from "../providers/signing.ts";
import { renderReceiptPdf } from "../render/pdf.ts";

/**
 * Bytes reserved for the CMS in /Contents: the SignedData with the agency certificate and its
 * CA is about 1.3 KB; 8 KB leaves room for a longer chain from a real CA.
 */
export const PDF_CONTENTS_BYTES = 8192;

/** What a receipt's PDF looks like depends on this, besides the receipt itself (the page's state). */
export function pdfVariant(view: Pick<ReceiptView, "status" | "paper">): string {
  return `${view.status}:${view.paper ? `${view.paper.billCode}-${view.paper.number}` : ""}`;
}

/**
 * The receipt's PDF, signed by the agency (ADR signed-receipt-pdf): the page is rendered on
 * request (deterministic), the signature is made once per receipt and state and kept
 * (`receipt_pdf_signature`), and goes into every later rendering whose signed bytes are the same.
 * So a download costs no signature, and nobody outside decides what the device signs: only
 * delivery's own rendering of a receipt it keeps (issued, supervised), at most once per state
 * (again only when the renderer itself changed the bytes, e.g. a new font).
 *
 * Without a signing gateway (`signing` undefined) the PDF is the unsigned page with the seal drawn.
 */
export class ReceiptPdfs {
  readonly #signPdf = new SignPdf();

  constructor(
    private readonly d: {
      prisma: PrismaClient;
      font: FontChoice;
      signing?: PdfSigning | undefined;
      clock: () => Date;
    },
  ) {}

  get signed(): boolean {
    return this.d.signing !== undefined;
  }

  async pdf(view: ReceiptView): Promise<Buffer> {
    const signing = this.d.signing;
    if (!signing) return renderReceiptPdf(view, this.d.font);
    try {
      return await this.#signed(view, signing);
    } catch (error) {
      // The H5 page and the print route answer 503 (try again); a delivery retries with backoff.
      if (error instanceof PdfSigningError) {
        throw new AppError("unavailable", `the receipt PDF cannot be signed now: ${error.message}`, {
          code: error.transient ? "PDF_SIGNING_UNAVAILABLE" : "PDF_SIGNING_KEY_MISSING",
        });
      }
      throw error;
    }
  }

  async #signed(view: ReceiptView, signing: PdfSigning): Promise<Buffer> {
    const { prisma } = this.d;
    const receipt = await prisma.receipt.findUnique({
      where: { receiptId: view.receiptId },
      select: { agencySignature: true },
    });
    if (!receipt) throw new Error(`receipt ${view.receiptId} is not kept by delivery`);
    const variant = pdfVariant(view);
    const kept = await prisma.receiptPdfSignature.findUnique({
      where: { receiptId_variant: { receiptId: view.receiptId, variant } },
    });
    const signer = await signing.signerOf(receipt.agencySignature);
    // Whole seconds: /M and the CMS signingTime say the same instant, and a rendering with the
    // kept time gives the kept bytes again.
    const signingTime = kept?.signedAt ?? new Date(Math.floor(this.d.clock().getTime() / 1000) * 1000);
    const prepared = await renderReceiptPdf(view, this.d.font, {
      signerName: signer.certificate.subject.commonName ?? view.agencyName ?? view.agencyCode,
      signingTime,
      contentsLength: PDF_CONTENTS_BYTES,
    });
    const signed = new (class extends Signer {
      override async sign(bytes: Buffer): Promise<Buffer> {
        const digest = sm3(bytes);
        if (kept && kept.contentSm3 === digest.toString("hex")) return Buffer.from(kept.cms);
        const cms = await createCmsDetached({
          digest,
          signerCert: signer.certificate,
          chain: signer.chain,
          signingTime,
          sign: (attributes) => signer.sign(attributes),
        });
        // As the gateway does for receipts: a signature that does not verify is never kept.
        const check = verifySignedData(cms, { content: bytes });
        if (!check.valid)
          throw new Error(`the device's signature of the PDF does not verify: ${check.reason}`);
        const row = {
          contentSm3: digest.toString("hex"),
          cms: new Uint8Array(cms),
          keyId: signer.keyId,
          signedAt: signingTime,
        };
        await prisma.receiptPdfSignature.upsert({
          where: { receiptId_variant: { receiptId: view.receiptId, variant } },
          create: { receiptId: view.receiptId, variant, ...row },
          update: row,
        });
        return cms;
      }
    })();
    return this.#signPdf.sign(prepared, signed);
  }
}
