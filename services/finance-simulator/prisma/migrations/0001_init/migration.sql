-- CreateEnum
CREATE TYPE "ApplicationStatus" AS ENUM ('PENDING', 'APPROVED', 'REJECTED');

-- CreateEnum
CREATE TYPE "Outcome" AS ENUM ('SUPERVISED', 'REJECTED');

-- CreateTable
CREATE TABLE "identity" (
    "name" TEXT NOT NULL,
    "certificate_pem" TEXT NOT NULL,
    "private_key_enc" BYTEA NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "identity_pkey" PRIMARY KEY ("name")
);

-- CreateTable
CREATE TABLE "counter" (
    "name" TEXT NOT NULL,
    "value" BIGINT NOT NULL,

    CONSTRAINT "counter_pkey" PRIMARY KEY ("name")
);

-- CreateTable
CREATE TABLE "agency" (
    "agency_code" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "region_code" TEXT,
    "secret_enc" BYTEA NOT NULL,
    "version" BIGINT NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "agency_pkey" PRIMARY KEY ("agency_code")
);

-- CreateTable
CREATE TABLE "bill_kind" (
    "agency_code" TEXT NOT NULL,
    "bill_code" CHAR(8) NOT NULL,
    "name" TEXT NOT NULL,
    "enabled" BOOLEAN NOT NULL,
    "version" BIGINT NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "bill_kind_pkey" PRIMARY KEY ("agency_code","bill_code")
);

-- CreateTable
CREATE TABLE "income_item" (
    "agency_code" TEXT NOT NULL,
    "item_code" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "bill_code" CHAR(8),
    "unit" TEXT,
    "standard_fen" INTEGER,
    "enabled" BOOLEAN NOT NULL,
    "version" BIGINT NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "income_item_pkey" PRIMARY KEY ("agency_code","item_code")
);

-- CreateTable
CREATE TABLE "region" (
    "agency_code" TEXT NOT NULL,
    "region_code" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "enabled" BOOLEAN NOT NULL,
    "version" BIGINT NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "region_pkey" PRIMARY KEY ("agency_code","region_code")
);

-- CreateTable
CREATE TABLE "agency_certificate" (
    "fingerprint_sm3" CHAR(64) NOT NULL,
    "agency_code" TEXT NOT NULL,
    "certificate_der" BYTEA NOT NULL,
    "not_after" TIMESTAMPTZ(3) NOT NULL,
    "bound_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "agency_certificate_pkey" PRIMARY KEY ("fingerprint_sm3")
);

-- CreateTable
CREATE TABLE "stock_application" (
    "finance_ref" TEXT NOT NULL,
    "agency_code" TEXT NOT NULL,
    "application_id" TEXT NOT NULL,
    "bill_code" CHAR(8) NOT NULL,
    "quantity" INTEGER NOT NULL,
    "applicant" TEXT,
    "reason" TEXT,
    "request_sm3" CHAR(64) NOT NULL,
    "status" "ApplicationStatus" NOT NULL,
    "decision_reason" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "decided_at" TIMESTAMPTZ(3),

    CONSTRAINT "stock_application_pkey" PRIMARY KEY ("finance_ref")
);

-- CreateTable
CREATE TABLE "number_counter" (
    "bill_code" CHAR(8) NOT NULL,
    "next_number" BIGINT NOT NULL,

    CONSTRAINT "number_counter_pkey" PRIMARY KEY ("bill_code")
);

-- CreateTable
CREATE TABLE "segment" (
    "finance_ref" TEXT NOT NULL,
    "seq" BIGSERIAL NOT NULL,
    "agency_code" TEXT NOT NULL,
    "bill_code" CHAR(8) NOT NULL,
    "start_number" BIGINT NOT NULL,
    "end_number" BIGINT NOT NULL,
    "application_ref" TEXT,
    "issued_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "segment_pkey" PRIMARY KEY ("finance_ref")
);

-- CreateTable
CREATE TABLE "receipt" (
    "receipt_id" UUID NOT NULL,
    "agency_code" TEXT NOT NULL,
    "bill_code" CHAR(8) NOT NULL,
    "number" CHAR(10) NOT NULL,
    "check_code" CHAR(6) NOT NULL,
    "kind" TEXT NOT NULL,
    "original_receipt_id" UUID,
    "issuing_point_code" TEXT,
    "total_fen" BIGINT NOT NULL,
    "issued_at" TIMESTAMPTZ(3) NOT NULL,
    "document" BYTEA NOT NULL,
    "document_sm3" CHAR(64) NOT NULL,
    "agency_signature" BYTEA NOT NULL,
    "outcome" "Outcome" NOT NULL,
    "reject_code" TEXT,
    "reject_reason" TEXT,
    "finance_ref" TEXT,
    "finance_signature" BYTEA,
    "finance_cert_sm3" CHAR(64),
    "decided_at" TIMESTAMPTZ(3) NOT NULL,
    "batch_id" TEXT NOT NULL,
    "red_flushed" BOOLEAN NOT NULL DEFAULT false,
    "exchanged" BOOLEAN NOT NULL DEFAULT false,
    "voided" BOOLEAN NOT NULL DEFAULT false,
    "booked" BOOLEAN NOT NULL DEFAULT false,
    "state_updated_at" TIMESTAMPTZ(3),

    CONSTRAINT "receipt_pkey" PRIMARY KEY ("receipt_id")
);

-- CreateTable
CREATE TABLE "audit_report" (
    "agency_code" TEXT NOT NULL,
    "report_id" TEXT NOT NULL,
    "request_sm3" CHAR(64) NOT NULL,
    "response" JSONB NOT NULL,
    "received_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "audit_report_pkey" PRIMARY KEY ("agency_code","report_id")
);

-- CreateIndex
CREATE INDEX "bill_kind_agency_code_version_idx" ON "bill_kind"("agency_code", "version");

-- CreateIndex
CREATE INDEX "income_item_agency_code_version_idx" ON "income_item"("agency_code", "version");

-- CreateIndex
CREATE INDEX "region_agency_code_version_idx" ON "region"("agency_code", "version");

-- CreateIndex
CREATE INDEX "agency_certificate_agency_code_idx" ON "agency_certificate"("agency_code");

-- CreateIndex
CREATE INDEX "stock_application_status_idx" ON "stock_application"("status");

-- CreateIndex
CREATE UNIQUE INDEX "stock_application_agency_code_application_id_key" ON "stock_application"("agency_code", "application_id");

-- CreateIndex
CREATE UNIQUE INDEX "segment_seq_key" ON "segment"("seq");

-- CreateIndex
CREATE INDEX "segment_agency_code_bill_code_start_number_idx" ON "segment"("agency_code", "bill_code", "start_number");

-- CreateIndex
CREATE INDEX "segment_bill_code_start_number_idx" ON "segment"("bill_code", "start_number");

-- CreateIndex
CREATE UNIQUE INDEX "receipt_finance_ref_key" ON "receipt"("finance_ref");

-- CreateIndex
CREATE INDEX "receipt_bill_code_number_idx" ON "receipt"("bill_code", "number");

-- CreateIndex
CREATE INDEX "receipt_agency_code_outcome_decided_at_idx" ON "receipt"("agency_code", "outcome", "decided_at");

-- CreateIndex
CREATE INDEX "receipt_agency_code_outcome_issued_at_idx" ON "receipt"("agency_code", "outcome", "issued_at");

-- A number is supervised at most once per bill code (Prisma cannot express a partial unique index).
CREATE UNIQUE INDEX "receipt_one_supervised_per_number" ON "receipt"("bill_code", "number") WHERE "outcome" = 'SUPERVISED';
