-- CreateEnum
CREATE TYPE "ReceiptStatus" AS ENUM ('REQUESTED', 'AGENCY_SIGNED', 'ISSUED', 'RED_FLUSHED', 'PAPER_EXCHANGED', 'BOOKED', 'VOIDED');

-- CreateEnum
CREATE TYPE "ReceiptSource" AS ENUM ('API', 'ONLINE', 'PAYMENT');

-- CreateTable
CREATE TABLE "income_item" (
    "agency_code" TEXT NOT NULL,
    "code" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "unit" TEXT NOT NULL,
    "standard_fen" BIGINT,
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "income_item_pkey" PRIMARY KEY ("agency_code","code")
);

-- CreateTable
CREATE TABLE "issuing_point" (
    "agency_code" TEXT NOT NULL,
    "code" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "issuing_point_pkey" PRIMARY KEY ("agency_code","code")
);

-- CreateTable
CREATE TABLE "bill_kind" (
    "agency_code" TEXT NOT NULL,
    "bill_code" CHAR(8) NOT NULL,
    "name" TEXT NOT NULL,

    CONSTRAINT "bill_kind_pkey" PRIMARY KEY ("agency_code","bill_code")
);

-- CreateTable
CREATE TABLE "number_run" (
    "id" UUID NOT NULL,
    "agency_code" TEXT NOT NULL,
    "issuing_point_code" TEXT NOT NULL,
    "bill_code" CHAR(8) NOT NULL,
    "start_number" BIGINT NOT NULL,
    "end_number" BIGINT NOT NULL,
    "next_number" BIGINT NOT NULL,
    "exhausted" BOOLEAN NOT NULL DEFAULT false,
    "received_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "number_run_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "receipt" (
    "id" UUID NOT NULL,
    "agency_code" TEXT NOT NULL,
    "biz_serial_no" TEXT NOT NULL,
    "issuing_point_code" TEXT NOT NULL,
    "bill_code" CHAR(8) NOT NULL,
    "number" BIGINT NOT NULL,
    "check_code" CHAR(6) NOT NULL,
    "status" "ReceiptStatus" NOT NULL,
    "source" "ReceiptSource" NOT NULL,
    "total_fen" BIGINT NOT NULL,
    "payer_type" SMALLINT NOT NULL,
    "payer_code" TEXT NOT NULL,
    "payer_name" TEXT NOT NULL,
    "issued_at" TIMESTAMPTZ(3) NOT NULL,
    "request_sm3" CHAR(64) NOT NULL,
    "request" JSONB NOT NULL,
    "document" BYTEA NOT NULL,
    "document_sm3" CHAR(64) NOT NULL,
    "created_by" TEXT NOT NULL,

    CONSTRAINT "receipt_pkey" PRIMARY KEY ("id")
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
CREATE INDEX "number_run_agency_code_issuing_point_code_bill_code_exhaust_idx" ON "number_run"("agency_code", "issuing_point_code", "bill_code", "exhausted", "start_number");

-- CreateIndex
CREATE INDEX "receipt_issuing_point_code_bill_code_number_idx" ON "receipt"("issuing_point_code", "bill_code", "number");

-- CreateIndex
CREATE UNIQUE INDEX "receipt_agency_code_biz_serial_no_key" ON "receipt"("agency_code", "biz_serial_no");

-- CreateIndex
CREATE UNIQUE INDEX "receipt_bill_code_number_key" ON "receipt"("bill_code", "number");

-- CreateIndex
CREATE INDEX "audit_log_subject_idx" ON "audit_log"("subject");
