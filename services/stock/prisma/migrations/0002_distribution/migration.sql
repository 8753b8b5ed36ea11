-- AlterEnum
ALTER TYPE "LedgerMovement" ADD VALUE 'DISTRIBUTED';

-- AlterTable
ALTER TABLE "ledger_entry" ADD COLUMN     "issuing_point_code" TEXT;

-- AlterTable (edited: segments already held start undistributed from their first number)
ALTER TABLE "segment" ADD COLUMN     "next_undistributed" BIGINT;
UPDATE "segment" SET "next_undistributed" = "start_number";
ALTER TABLE "segment" ALTER COLUMN "next_undistributed" SET NOT NULL;

-- CreateTable
CREATE TABLE "distribution_rule" (
    "agency_code" TEXT NOT NULL,
    "bill_code" CHAR(8) NOT NULL,
    "issuing_point_code" TEXT NOT NULL,
    "threshold" INTEGER NOT NULL,
    "batch_size" INTEGER NOT NULL,
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_by" TEXT NOT NULL,

    CONSTRAINT "distribution_rule_pkey" PRIMARY KEY ("agency_code","bill_code","issuing_point_code")
);

-- CreateTable
CREATE TABLE "distribution" (
    "id" UUID NOT NULL,
    "segment_id" UUID NOT NULL,
    "agency_code" TEXT NOT NULL,
    "bill_code" CHAR(8) NOT NULL,
    "issuing_point_code" TEXT NOT NULL,
    "start_number" BIGINT NOT NULL,
    "end_number" BIGINT NOT NULL,
    "distributed_at" TIMESTAMPTZ(3) NOT NULL,
    "distributed_by" TEXT NOT NULL,

    CONSTRAINT "distribution_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "distribution_agency_code_bill_code_issuing_point_code_idx" ON "distribution"("agency_code", "bill_code", "issuing_point_code");

-- AddForeignKey
ALTER TABLE "distribution" ADD CONSTRAINT "distribution_segment_id_fkey" FOREIGN KEY ("segment_id") REFERENCES "segment"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
