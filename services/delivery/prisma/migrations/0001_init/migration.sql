-- CreateTable
CREATE TABLE "receipt" (
    "receipt_id" UUID NOT NULL,
    "agency_code" TEXT NOT NULL,
    "bill_code" TEXT NOT NULL,
    "number" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "original_receipt_id" UUID,
    "biz_serial_no" TEXT NOT NULL,
    "issuing_point_code" TEXT NOT NULL,
    "check_code" TEXT NOT NULL,
    "issued_at" TIMESTAMPTZ(3) NOT NULL,
    "supervised_at" TIMESTAMPTZ(3) NOT NULL,
    "total_fen" BIGINT NOT NULL,
    "sealed_payer" BYTEA NOT NULL,
    "payer_name_digest" TEXT NOT NULL,
    "payer_phone_digest" TEXT,
    "items" JSONB NOT NULL,
    "remark" TEXT,
    "handling_person" TEXT NOT NULL,
    "checker" TEXT,
    "document" TEXT NOT NULL,
    "document_sm3" TEXT NOT NULL,
    "agency_signature" TEXT NOT NULL,
    "finance_signature" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "red_receipt_id" UUID,
    "red_bill_code" TEXT,
    "red_number" TEXT,
    "red_reason" TEXT,
    "red_flushed_at" TIMESTAMPTZ(3),
    "received_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "receipt_pkey" PRIMARY KEY ("receipt_id")
);

-- CreateTable
CREATE TABLE "channel_authorization" (
    "agency_code" TEXT NOT NULL,
    "email" BOOLEAN NOT NULL DEFAULT false,
    "sms" BOOLEAN NOT NULL DEFAULT false,
    "webhook_url" TEXT,
    "sealed_webhook_secret" BYTEA,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_by" TEXT NOT NULL,

    CONSTRAINT "channel_authorization_pkey" PRIMARY KEY ("agency_code")
);

-- CreateTable
CREATE TABLE "delivery" (
    "id" UUID NOT NULL,
    "receipt_id" UUID NOT NULL,
    "agency_code" TEXT NOT NULL,
    "channel" TEXT NOT NULL,
    "topic" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "next_attempt_at" TIMESTAMPTZ(3) NOT NULL,
    "last_error" TEXT,
    "delivered_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "delivery_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "pickup_code" (
    "phone_digest" TEXT NOT NULL,
    "code_digest" TEXT NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "failures" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "pickup_code_pkey" PRIMARY KEY ("phone_digest")
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
CREATE INDEX "receipt_agency_code_biz_serial_no_idx" ON "receipt"("agency_code", "biz_serial_no");

-- CreateIndex
CREATE INDEX "receipt_payer_phone_digest_idx" ON "receipt"("payer_phone_digest");

-- CreateIndex
CREATE UNIQUE INDEX "receipt_bill_code_number_key" ON "receipt"("bill_code", "number");

-- CreateIndex
CREATE INDEX "delivery_status_next_attempt_at_idx" ON "delivery"("status", "next_attempt_at");

-- CreateIndex
CREATE INDEX "delivery_agency_code_status_idx" ON "delivery"("agency_code", "status");

-- CreateIndex
CREATE UNIQUE INDEX "delivery_receipt_id_channel_topic_key" ON "delivery"("receipt_id", "channel", "topic");

-- CreateIndex
CREATE INDEX "audit_log_subject_idx" ON "audit_log"("subject");

-- AddForeignKey
ALTER TABLE "delivery" ADD CONSTRAINT "delivery_receipt_id_fkey" FOREIGN KEY ("receipt_id") REFERENCES "receipt"("receipt_id") ON DELETE RESTRICT ON UPDATE CASCADE;
