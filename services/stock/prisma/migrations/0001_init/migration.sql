-- CreateEnum
CREATE TYPE "SegmentStatus" AS ENUM ('RECEIVED', 'STOCKED');

-- CreateEnum
CREATE TYPE "SegmentSource" AS ENUM ('FINANCE', 'MANUAL');

-- CreateEnum
CREATE TYPE "LedgerMovement" AS ENUM ('STOCKED', 'USED', 'VOIDED', 'RETURNED');

-- CreateTable
CREATE TABLE "bill_kind" (
    "agency_code" TEXT NOT NULL,
    "bill_code" CHAR(8) NOT NULL,
    "name" TEXT NOT NULL,
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "bill_kind_pkey" PRIMARY KEY ("agency_code","bill_code")
);

-- CreateTable
CREATE TABLE "segment" (
    "id" UUID NOT NULL,
    "agency_code" TEXT NOT NULL,
    "bill_code" CHAR(8) NOT NULL,
    "start_number" BIGINT NOT NULL,
    "end_number" BIGINT NOT NULL,
    "status" "SegmentStatus" NOT NULL,
    "source" "SegmentSource" NOT NULL,
    "finance_ref" TEXT,
    "received_at" TIMESTAMPTZ(3) NOT NULL,
    "stocked_at" TIMESTAMPTZ(3),
    "stocked_by" TEXT,

    CONSTRAINT "segment_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ledger_entry" (
    "id" BIGSERIAL NOT NULL,
    "agency_code" TEXT NOT NULL,
    "bill_code" CHAR(8) NOT NULL,
    "movement" "LedgerMovement" NOT NULL,
    "quantity" INTEGER NOT NULL,
    "segment_id" UUID,
    "business_date" DATE NOT NULL,
    "recorded_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ledger_entry_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "audit_log" (
    "id" BIGSERIAL NOT NULL,
    "actor" TEXT NOT NULL,
    "action" TEXT NOT NULL,
    "subject" TEXT NOT NULL,
    "detail" JSONB NOT NULL,
    "occurred_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "audit_log_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "segment_agency_code_bill_code_start_number_idx" ON "segment"("agency_code", "bill_code", "start_number");

-- CreateIndex
CREATE UNIQUE INDEX "segment_agency_code_finance_ref_key" ON "segment"("agency_code", "finance_ref");

-- CreateIndex
CREATE INDEX "ledger_entry_agency_code_bill_code_business_date_idx" ON "ledger_entry"("agency_code", "bill_code", "business_date");

-- CreateIndex
CREATE INDEX "audit_log_subject_idx" ON "audit_log"("subject");

-- AddForeignKey
ALTER TABLE "segment" ADD CONSTRAINT "segment_agency_code_bill_code_fkey" FOREIGN KEY ("agency_code", "bill_code") REFERENCES "bill_kind"("agency_code", "bill_code") ON DELETE RESTRICT ON UPDATE CASCADE;
