-- CreateEnum
CREATE TYPE "RemovalKind" AS ENUM ('RETURNED', 'VOIDED');

-- AlterTable
ALTER TABLE "ledger_entry" ADD COLUMN     "removal_id" UUID;

-- CreateTable
CREATE TABLE "stock_removal" (
    "id" UUID NOT NULL,
    "segment_id" UUID NOT NULL,
    "agency_code" TEXT NOT NULL,
    "bill_code" CHAR(8) NOT NULL,
    "kind" "RemovalKind" NOT NULL,
    "start_number" BIGINT NOT NULL,
    "end_number" BIGINT NOT NULL,
    "reason" TEXT,
    "removed_by" TEXT NOT NULL,
    "removed_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "stock_removal_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "write_off" (
    "id" UUID NOT NULL,
    "agency_code" TEXT NOT NULL,
    "bill_code" CHAR(8) NOT NULL,
    "period" CHAR(7) NOT NULL,
    "status" TEXT NOT NULL,
    "record" JSONB NOT NULL,
    "submitted_by" TEXT NOT NULL,
    "submitted_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "write_off_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "stock_removal_segment_id_start_number_idx" ON "stock_removal"("segment_id", "start_number");

-- CreateIndex
CREATE UNIQUE INDEX "write_off_agency_code_bill_code_period_key" ON "write_off"("agency_code", "bill_code", "period");

-- AddForeignKey
ALTER TABLE "stock_removal" ADD CONSTRAINT "stock_removal_segment_id_fkey" FOREIGN KEY ("segment_id") REFERENCES "segment"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
