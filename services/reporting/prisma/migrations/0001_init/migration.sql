-- CreateTable
CREATE TABLE "projection_state" (
    "id" TEXT NOT NULL,
    "generation" INTEGER NOT NULL,
    "rebuilt_at" TIMESTAMPTZ(3),
    "rebuilt_by" TEXT,

    CONSTRAINT "projection_state_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "projection_checkpoint" (
    "generation" INTEGER NOT NULL,
    "topic" TEXT NOT NULL,
    "partition" INTEGER NOT NULL,
    "next_offset" BIGINT NOT NULL,
    "last_event_at" TIMESTAMPTZ(3) NOT NULL,
    "applied_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "projection_checkpoint_pkey" PRIMARY KEY ("generation","topic","partition")
);

-- CreateTable
CREATE TABLE "agency" (
    "code" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "synced_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "agency_pkey" PRIMARY KEY ("code")
);

-- CreateTable
CREATE TABLE "bill_kind" (
    "agency_code" TEXT NOT NULL,
    "bill_code" CHAR(8) NOT NULL,
    "name" TEXT NOT NULL,

    CONSTRAINT "bill_kind_pkey" PRIMARY KEY ("agency_code","bill_code")
);

-- CreateTable
CREATE TABLE "issuing_point" (
    "agency_code" TEXT NOT NULL,
    "code" TEXT NOT NULL,
    "name" TEXT NOT NULL,

    CONSTRAINT "issuing_point_pkey" PRIMARY KEY ("agency_code","code")
);

-- CreateTable
CREATE TABLE "income_item" (
    "agency_code" TEXT NOT NULL,
    "code" TEXT NOT NULL,
    "name" TEXT NOT NULL,

    CONSTRAINT "income_item_pkey" PRIMARY KEY ("agency_code","code")
);

-- CreateTable
CREATE TABLE "receipt" (
    "id" UUID NOT NULL,
    "agency_code" TEXT NOT NULL,
    "issuing_point_code" TEXT NOT NULL,
    "bill_code" CHAR(8) NOT NULL,
    "number" BIGINT NOT NULL,
    "check_code" CHAR(6) NOT NULL,
    "kind" TEXT NOT NULL,
    "original_receipt_id" UUID,
    "biz_serial_no" TEXT NOT NULL,
    "total_fen" BIGINT NOT NULL,
    "payer_type" SMALLINT NOT NULL,
    "payer_sealed" BYTEA NOT NULL,
    "payer_name_digest" CHAR(64) NOT NULL,
    "payer_code_digest" CHAR(64) NOT NULL,
    "handling_person" TEXT NOT NULL,
    "issued_at" TIMESTAMPTZ(3) NOT NULL,
    "issue_day" DATE NOT NULL,
    "status" TEXT NOT NULL,
    "tally" TEXT NOT NULL,
    "agency_signed_at" TIMESTAMPTZ(3),
    "supervised_at" TIMESTAMPTZ(3),
    "voided_at" TIMESTAMPTZ(3),
    "void_day" DATE,
    "void_reason" TEXT,
    "red_receipt_id" UUID,
    "red_flushed_at" TIMESTAMPTZ(3),
    "red_flush_reason" TEXT,
    "paper_bill_code" CHAR(8),
    "paper_number" CHAR(10),
    "paper_exchanged_at" TIMESTAMPTZ(3),
    "booked_at" TIMESTAMPTZ(3),

    CONSTRAINT "receipt_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "receipt_line" (
    "receipt_id" UUID NOT NULL,
    "line_no" SMALLINT NOT NULL,
    "item_code" TEXT NOT NULL,
    "item_name" TEXT NOT NULL,
    "quantity" TEXT NOT NULL,
    "amount_fen" BIGINT NOT NULL,

    CONSTRAINT "receipt_line_pkey" PRIMARY KEY ("receipt_id","line_no")
);

-- CreateTable
CREATE TABLE "issued_daily" (
    "agency_code" TEXT NOT NULL,
    "day" DATE NOT NULL,
    "issuing_point_code" TEXT NOT NULL,
    "bill_code" CHAR(8) NOT NULL,
    "handling_person" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "tally" TEXT NOT NULL,
    "receipts" INTEGER NOT NULL,
    "amount_fen" BIGINT NOT NULL,

    CONSTRAINT "issued_daily_pkey" PRIMARY KEY ("agency_code","day","issuing_point_code","bill_code","handling_person","kind","tally")
);

-- CreateTable
CREATE TABLE "issued_item_daily" (
    "agency_code" TEXT NOT NULL,
    "day" DATE NOT NULL,
    "issuing_point_code" TEXT NOT NULL,
    "bill_code" CHAR(8) NOT NULL,
    "handling_person" TEXT NOT NULL,
    "item_code" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "tally" TEXT NOT NULL,
    "receipts" INTEGER NOT NULL,
    "amount_fen" BIGINT NOT NULL,

    CONSTRAINT "issued_item_daily_pkey" PRIMARY KEY ("agency_code","day","item_code","issuing_point_code","bill_code","handling_person","kind","tally")
);

-- CreateTable
CREATE TABLE "stock_daily" (
    "agency_code" TEXT NOT NULL,
    "bill_code" CHAR(8) NOT NULL,
    "holder" TEXT NOT NULL,
    "day" DATE NOT NULL,
    "movement" TEXT NOT NULL,
    "quantity" BIGINT NOT NULL,

    CONSTRAINT "stock_daily_pkey" PRIMARY KEY ("agency_code","bill_code","holder","day","movement")
);

-- CreateTable
CREATE TABLE "segment" (
    "id" UUID NOT NULL,
    "agency_code" TEXT NOT NULL,
    "bill_code" CHAR(8) NOT NULL,
    "start_number" BIGINT NOT NULL,
    "end_number" BIGINT NOT NULL,
    "count" INTEGER NOT NULL,
    "source" TEXT NOT NULL,
    "finance_ref" TEXT,
    "stocked_at" TIMESTAMPTZ(3),
    "stocked_day" DATE,
    "stocked_by" TEXT,

    CONSTRAINT "segment_pkey" PRIMARY KEY ("id")
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
    "count" INTEGER NOT NULL,
    "distributed_at" TIMESTAMPTZ(3) NOT NULL,
    "day" DATE NOT NULL,
    "distributed_by" TEXT,

    CONSTRAINT "distribution_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "stock_removal" (
    "id" UUID NOT NULL,
    "kind" TEXT NOT NULL,
    "segment_id" UUID NOT NULL,
    "agency_code" TEXT NOT NULL,
    "bill_code" CHAR(8) NOT NULL,
    "start_number" BIGINT NOT NULL,
    "end_number" BIGINT NOT NULL,
    "count" INTEGER NOT NULL,
    "reason" TEXT,
    "removed_by" TEXT NOT NULL,
    "removed_at" TIMESTAMPTZ(3) NOT NULL,
    "day" DATE NOT NULL,

    CONSTRAINT "stock_removal_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "write_off" (
    "id" UUID NOT NULL,
    "agency_code" TEXT NOT NULL,
    "bill_code" CHAR(8) NOT NULL,
    "period" CHAR(7) NOT NULL,
    "record" JSONB NOT NULL,
    "submitted_by" TEXT NOT NULL,
    "submitted_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "write_off_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "reconciliation" (
    "agency_code" TEXT NOT NULL,
    "day" DATE NOT NULL,
    "report_id" UUID NOT NULL,
    "reconciled_at" TIMESTAMPTZ(3) NOT NULL,
    "summary" JSONB NOT NULL,
    "differences_omitted" INTEGER NOT NULL,

    CONSTRAINT "reconciliation_pkey" PRIMARY KEY ("agency_code","day")
);

-- CreateTable
CREATE TABLE "reconciliation_difference" (
    "agency_code" TEXT NOT NULL,
    "day" DATE NOT NULL,
    "seq" INTEGER NOT NULL,
    "kind" TEXT NOT NULL,
    "bill_code" CHAR(8) NOT NULL,
    "number" CHAR(10) NOT NULL,
    "receipt_id" TEXT,
    "finance_ref" TEXT,
    "explanation" TEXT NOT NULL,

    CONSTRAINT "reconciliation_difference_pkey" PRIMARY KEY ("agency_code","day","seq")
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
CREATE INDEX "receipt_agency_code_issued_at_id_idx" ON "receipt"("agency_code", "issued_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "receipt_agency_code_issuing_point_code_issued_at_id_idx" ON "receipt"("agency_code", "issuing_point_code", "issued_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "receipt_agency_code_status_issued_at_id_idx" ON "receipt"("agency_code", "status", "issued_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "receipt_agency_code_kind_issued_at_id_idx" ON "receipt"("agency_code", "kind", "issued_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "receipt_agency_code_payer_name_digest_issued_at_idx" ON "receipt"("agency_code", "payer_name_digest", "issued_at" DESC);

-- CreateIndex
CREATE INDEX "receipt_agency_code_payer_code_digest_issued_at_idx" ON "receipt"("agency_code", "payer_code_digest", "issued_at" DESC);

-- CreateIndex
CREATE INDEX "receipt_agency_code_biz_serial_no_idx" ON "receipt"("agency_code", "biz_serial_no");

-- CreateIndex
CREATE INDEX "receipt_agency_code_total_fen_issued_at_idx" ON "receipt"("agency_code", "total_fen", "issued_at" DESC);

-- CreateIndex
CREATE INDEX "receipt_agency_code_void_day_idx" ON "receipt"("agency_code", "void_day");

-- CreateIndex
CREATE INDEX "receipt_original_receipt_id_idx" ON "receipt"("original_receipt_id");

-- CreateIndex
CREATE UNIQUE INDEX "receipt_agency_code_bill_code_number_key" ON "receipt"("agency_code", "bill_code", "number");

-- CreateIndex
CREATE INDEX "receipt_line_item_code_receipt_id_idx" ON "receipt_line"("item_code", "receipt_id");

-- CreateIndex
CREATE INDEX "segment_agency_code_stocked_day_idx" ON "segment"("agency_code", "stocked_day");

-- CreateIndex
CREATE INDEX "distribution_agency_code_day_idx" ON "distribution"("agency_code", "day");

-- CreateIndex
CREATE INDEX "distribution_segment_id_idx" ON "distribution"("segment_id");

-- CreateIndex
CREATE INDEX "stock_removal_agency_code_day_idx" ON "stock_removal"("agency_code", "day");

-- CreateIndex
CREATE INDEX "stock_removal_segment_id_idx" ON "stock_removal"("segment_id");

-- CreateIndex
CREATE INDEX "write_off_agency_code_period_idx" ON "write_off"("agency_code", "period");

-- CreateIndex
CREATE INDEX "audit_log_subject_idx" ON "audit_log"("subject");

-- AddForeignKey
ALTER TABLE "receipt_line" ADD CONSTRAINT "receipt_line_receipt_id_fkey" FOREIGN KEY ("receipt_id") REFERENCES "receipt"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "reconciliation_difference" ADD CONSTRAINT "reconciliation_difference_agency_code_day_fkey" FOREIGN KEY ("agency_code", "day") REFERENCES "reconciliation"("agency_code", "day") ON DELETE CASCADE ON UPDATE CASCADE;
