-- CreateTable
CREATE TABLE "receipt_pdf_signature" (
    "receipt_id" UUID NOT NULL,
    "variant" TEXT NOT NULL,
    "content_sm3" TEXT NOT NULL,
    "cms" BYTEA NOT NULL,
    "key_id" TEXT NOT NULL,
    "signed_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "receipt_pdf_signature_pkey" PRIMARY KEY ("receipt_id","variant")
);
