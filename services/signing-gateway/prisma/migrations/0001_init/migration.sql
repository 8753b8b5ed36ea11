-- CreateEnum
CREATE TYPE "SigningOutcome" AS ENUM ('SIGNED', 'REFUSED');

-- CreateTable
CREATE TABLE "receipt_signature" (
    "receipt_id" UUID NOT NULL,
    "agency_code" TEXT NOT NULL,
    "document_sm3" CHAR(64) NOT NULL,
    "outcome" "SigningOutcome" NOT NULL,
    "key_id" TEXT,
    "signature" BYTEA,
    "certificate_sm3" CHAR(64),
    "refusal_code" TEXT,
    "reason" TEXT,
    "event_id" UUID NOT NULL,
    "decided_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "receipt_signature_pkey" PRIMARY KEY ("receipt_id")
);

-- CreateIndex
CREATE INDEX "receipt_signature_agency_code_decided_at_idx" ON "receipt_signature"("agency_code", "decided_at");
