-- CreateEnum
CREATE TYPE "ReceiptKind" AS ENUM ('BLUE', 'RED');

-- AlterTable
ALTER TABLE "receipt" ADD COLUMN     "agency_signature" BYTEA,
ADD COLUMN     "agency_signed_at" TIMESTAMPTZ(3),
ADD COLUMN     "booked_at" TIMESTAMPTZ(3),
ADD COLUMN     "booked_by" TEXT,
ADD COLUMN     "finance_ref" TEXT,
ADD COLUMN     "finance_signature" BYTEA,
ADD COLUMN     "kind" "ReceiptKind" NOT NULL DEFAULT 'BLUE',
ADD COLUMN     "lines" JSONB,
ADD COLUMN     "original_receipt_id" UUID,
ADD COLUMN     "paper_bill_code" CHAR(8),
ADD COLUMN     "paper_exchanged_at" TIMESTAMPTZ(3),
ADD COLUMN     "paper_number" CHAR(10),
ADD COLUMN     "reason" TEXT,
ADD COLUMN     "red_flushed_at" TIMESTAMPTZ(3),
ADD COLUMN     "signing_key_id" TEXT,
ADD COLUMN     "supervised_at" TIMESTAMPTZ(3),
ADD COLUMN     "voided_at" TIMESTAMPTZ(3);

-- CreateIndex
CREATE INDEX "receipt_original_receipt_id_idx" ON "receipt"("original_receipt_id");
