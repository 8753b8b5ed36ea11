-- CreateEnum
CREATE TYPE "SupervisionStatus" AS ENUM ('QUEUED', 'BATCHED', 'SUPERVISED', 'REJECTED');

-- CreateEnum
CREATE TYPE "RequestStatus" AS ENUM ('PENDING', 'SENT', 'ANSWERED');

-- CreateTable
CREATE TABLE "supervision_item" (
    "receipt_id" UUID NOT NULL,
    "agency_code" TEXT NOT NULL,
    "bill_code" CHAR(8) NOT NULL,
    "number" CHAR(10) NOT NULL,
    "kind" TEXT NOT NULL,
    "original_receipt_id" UUID,
    "issuing_point_code" TEXT NOT NULL,
    "check_code" CHAR(6) NOT NULL,
    "total_fen" BIGINT NOT NULL,
    "issued_at" TIMESTAMPTZ(3) NOT NULL,
    "document" TEXT NOT NULL,
    "document_sm3" CHAR(64) NOT NULL,
    "agency_signature" TEXT NOT NULL,
    "status" "SupervisionStatus" NOT NULL,
    "request_id" UUID,
    "batch_alone" BOOLEAN NOT NULL DEFAULT false,
    "queued_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finance_ref" TEXT,
    "finance_signature" TEXT,
    "rejection_code" TEXT,
    "rejection_reason" TEXT,
    "decided_at" TIMESTAMPTZ(3),

    CONSTRAINT "supervision_item_pkey" PRIMARY KEY ("receipt_id")
);

-- CreateTable
CREATE TABLE "finance_request" (
    "id" UUID NOT NULL,
    "operation" TEXT NOT NULL,
    "payload" JSONB NOT NULL,
    "status" "RequestStatus" NOT NULL,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "next_attempt_at" TIMESTAMPTZ(3) NOT NULL,
    "last_error" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "answered_at" TIMESTAMPTZ(3),
    "reply" JSONB,

    CONSTRAINT "finance_request_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "base_data" (
    "agency_code" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "code" TEXT NOT NULL,
    "payload" JSONB NOT NULL,
    "synced_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "base_data_pkey" PRIMARY KEY ("agency_code","kind","code")
);

-- CreateTable
CREATE TABLE "stock_application" (
    "id" UUID NOT NULL,
    "agency_code" TEXT NOT NULL,
    "bill_code" CHAR(8) NOT NULL,
    "quantity" INTEGER NOT NULL,
    "requested_by" TEXT NOT NULL,
    "requested_at" TIMESTAMPTZ(3) NOT NULL,
    "status" TEXT NOT NULL,
    "finance_ref" TEXT,
    "reason" TEXT,
    "decided_at" TIMESTAMPTZ(3),

    CONSTRAINT "stock_application_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "issued_segment" (
    "finance_ref" TEXT NOT NULL,
    "application_id" UUID,
    "agency_code" TEXT NOT NULL,
    "bill_code" CHAR(8) NOT NULL,
    "start_number" CHAR(10) NOT NULL,
    "end_number" CHAR(10) NOT NULL,
    "issued_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "issued_segment_pkey" PRIMARY KEY ("finance_ref")
);

-- CreateTable
CREATE TABLE "archived_receipt" (
    "content_sm3" CHAR(64) NOT NULL,
    "receipt_id" UUID,
    "agency_code" TEXT NOT NULL,
    "bill_code" CHAR(8) NOT NULL,
    "number" CHAR(10) NOT NULL,
    "finance_ref" TEXT NOT NULL,
    "supervised_at" TIMESTAMPTZ(3) NOT NULL,
    "document" TEXT NOT NULL,
    "agency_signature" TEXT NOT NULL,
    "finance_signature" TEXT NOT NULL,
    "finance_certificate" TEXT NOT NULL,
    "archived_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "archived_receipt_pkey" PRIMARY KEY ("content_sm3")
);

-- CreateTable
CREATE TABLE "reconciliation_report" (
    "id" UUID NOT NULL,
    "agency_code" TEXT NOT NULL,
    "day" DATE NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "summary" JSONB NOT NULL,
    "differences" JSONB NOT NULL,

    CONSTRAINT "reconciliation_report_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "audit_report" (
    "id" UUID NOT NULL,
    "agency_code" TEXT NOT NULL,
    "period_start" DATE NOT NULL,
    "period_end" DATE NOT NULL,
    "content" JSONB NOT NULL,
    "submitted_by" TEXT NOT NULL,
    "submitted_at" TIMESTAMPTZ(3) NOT NULL,
    "status" TEXT NOT NULL,
    "answer" JSONB,
    "answered_at" TIMESTAMPTZ(3),

    CONSTRAINT "audit_report_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ferry_rejection" (
    "id" UUID NOT NULL,
    "file_name" TEXT NOT NULL,
    "file_sm3" CHAR(64) NOT NULL,
    "reason" TEXT NOT NULL,
    "received_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "ferry_rejection_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ferry_received" (
    "message_id" UUID NOT NULL,
    "received_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "ferry_received_pkey" PRIMARY KEY ("message_id")
);

-- CreateTable
CREATE TABLE "audit_log" (
    "id" BIGSERIAL NOT NULL,
    "actor" TEXT NOT NULL,
    "action" TEXT NOT NULL,
    "subject" TEXT NOT NULL,
    "detail" JSONB NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "audit_log_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "supervision_item_status_queued_at_idx" ON "supervision_item"("status", "queued_at");

-- CreateIndex
CREATE INDEX "supervision_item_agency_code_issued_at_idx" ON "supervision_item"("agency_code", "issued_at");

-- CreateIndex
CREATE UNIQUE INDEX "supervision_item_agency_code_bill_code_number_key" ON "supervision_item"("agency_code", "bill_code", "number");

-- CreateIndex
CREATE INDEX "finance_request_status_next_attempt_at_idx" ON "finance_request"("status", "next_attempt_at");

-- CreateIndex
CREATE INDEX "archived_receipt_agency_code_supervised_at_idx" ON "archived_receipt"("agency_code", "supervised_at");

-- CreateIndex
CREATE UNIQUE INDEX "archived_receipt_agency_code_bill_code_number_content_sm3_key" ON "archived_receipt"("agency_code", "bill_code", "number", "content_sm3");

-- CreateIndex
CREATE INDEX "reconciliation_report_agency_code_day_idx" ON "reconciliation_report"("agency_code", "day");

-- CreateIndex
CREATE UNIQUE INDEX "ferry_rejection_file_sm3_key" ON "ferry_rejection"("file_sm3");

-- An archived receipt never changes and is never removed: the archive is evidence.
CREATE FUNCTION archived_receipt_is_immutable() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'archived receipts are immutable (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER archived_receipt_immutable
  BEFORE UPDATE OR DELETE ON "archived_receipt"
  FOR EACH ROW EXECUTE FUNCTION archived_receipt_is_immutable();
