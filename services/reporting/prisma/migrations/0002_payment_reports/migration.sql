-- CreateTable
CREATE TABLE "payment_collected" (
    "payment_id" TEXT NOT NULL,
    "agency_code" TEXT NOT NULL,
    "channel" TEXT NOT NULL,
    "business_day" DATE NOT NULL,
    "paid_fen" BIGINT NOT NULL,
    "paid_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "payment_collected_pkey" PRIMARY KEY ("payment_id")
);

-- CreateTable
CREATE TABLE "payment_refunded" (
    "refund_id" TEXT NOT NULL,
    "agency_code" TEXT NOT NULL,
    "payment_id" TEXT NOT NULL,
    "biz_serial_no" TEXT NOT NULL,
    "refund_serial_no" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "channel" TEXT NOT NULL,
    "channel_trade_no" TEXT NOT NULL,
    "business_day" DATE NOT NULL,
    "amount_fen" BIGINT NOT NULL,
    "remaining_fen" BIGINT NOT NULL,
    "refunded_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "payment_refunded_pkey" PRIMARY KEY ("refund_id")
);

-- CreateTable
CREATE TABLE "channel_reconciliation" (
    "agency_code" TEXT NOT NULL,
    "channel" TEXT NOT NULL,
    "business_day" DATE NOT NULL,
    "matched" INTEGER NOT NULL,
    "differences" INTEGER NOT NULL,
    "repaired" INTEGER NOT NULL,
    "held" INTEGER NOT NULL,
    "collected_fen" BIGINT NOT NULL,
    "refunded_fen" BIGINT NOT NULL,
    "completed_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "channel_reconciliation_pkey" PRIMARY KEY ("agency_code","channel","business_day")
);

-- CreateTable
CREATE TABLE "channel_difference" (
    "id" BIGSERIAL NOT NULL,
    "agency_code" TEXT NOT NULL,
    "channel" TEXT NOT NULL,
    "business_day" DATE NOT NULL,
    "kind" TEXT NOT NULL,
    "subject" TEXT NOT NULL,
    "order_id" TEXT,
    "refund_id" TEXT,
    "channel_trade_no" TEXT,
    "our_fen" BIGINT,
    "channel_fen" BIGINT,
    "resolution" TEXT NOT NULL,
    "found_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "channel_difference_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "clearing_instruction" (
    "instruction_id" TEXT NOT NULL,
    "batch_id" TEXT NOT NULL,
    "agency_code" TEXT NOT NULL,
    "business_day" DATE NOT NULL,
    "account_no" TEXT NOT NULL,
    "account_name" TEXT NOT NULL,
    "collected_fen" BIGINT NOT NULL,
    "refunded_fen" BIGINT NOT NULL,
    "amount_fen" BIGINT NOT NULL,
    "status" TEXT NOT NULL,
    "note" TEXT,
    "instructed_at" TIMESTAMPTZ(3) NOT NULL,
    "settled_at" TIMESTAMPTZ(3),

    CONSTRAINT "clearing_instruction_pkey" PRIMARY KEY ("instruction_id")
);

-- CreateIndex
CREATE INDEX "payment_collected_agency_code_business_day_idx" ON "payment_collected"("agency_code", "business_day");

-- CreateIndex
CREATE INDEX "payment_refunded_agency_code_business_day_idx" ON "payment_refunded"("agency_code", "business_day");

-- CreateIndex
CREATE INDEX "channel_difference_agency_code_channel_business_day_idx" ON "channel_difference"("agency_code", "channel", "business_day");

-- CreateIndex
CREATE INDEX "clearing_instruction_agency_code_business_day_idx" ON "clearing_instruction"("agency_code", "business_day");
