-- CreateTable
CREATE TABLE "nontax_refund" (
    "refund_id" TEXT NOT NULL,
    "payment_code" CHAR(20) NOT NULL,
    "agency_code" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "channel" TEXT NOT NULL,
    "channel_trade_no" TEXT NOT NULL,
    "amount_fen" BIGINT NOT NULL,
    "reason" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "decision_note" TEXT,
    "channel_refund_no" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "decided_at" TIMESTAMPTZ(3),
    "refunded_at" TIMESTAMPTZ(3),

    CONSTRAINT "nontax_refund_pkey" PRIMARY KEY ("refund_id")
);

-- CreateIndex
CREATE INDEX "nontax_refund_payment_code_idx" ON "nontax_refund"("payment_code");

-- CreateIndex
CREATE INDEX "nontax_refund_status_idx" ON "nontax_refund"("status");
