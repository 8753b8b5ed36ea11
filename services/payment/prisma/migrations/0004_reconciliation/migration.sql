-- CreateTable
CREATE TABLE "payment_reconciliation" (
    "agency_code" TEXT NOT NULL,
    "channel" TEXT NOT NULL,
    "business_day" CHAR(10) NOT NULL,
    "matched" INTEGER NOT NULL,
    "differences" INTEGER NOT NULL,
    "repaired" INTEGER NOT NULL,
    "held" INTEGER NOT NULL,
    "collected_fen" BIGINT NOT NULL,
    "refunded_fen" BIGINT NOT NULL,
    "ran_at" TIMESTAMPTZ(3) NOT NULL,
    "ran_by" TEXT NOT NULL,

    CONSTRAINT "payment_reconciliation_pkey" PRIMARY KEY ("agency_code","channel","business_day")
);

-- CreateTable
CREATE TABLE "payment_difference" (
    "id" BIGSERIAL NOT NULL,
    "agency_code" TEXT NOT NULL,
    "channel" TEXT NOT NULL,
    "business_day" CHAR(10) NOT NULL,
    "kind" TEXT NOT NULL,
    "subject" TEXT NOT NULL,
    "order_id" TEXT,
    "refund_id" TEXT,
    "channel_trade_no" TEXT,
    "our_fen" BIGINT,
    "channel_fen" BIGINT,
    "resolution" TEXT NOT NULL,
    "found_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "payment_difference_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "payment_difference_agency_code_channel_business_day_idx" ON "payment_difference"("agency_code", "channel", "business_day");
