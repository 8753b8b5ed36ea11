-- CreateTable
CREATE TABLE "nontax_clearing_instruction" (
    "instruction_id" TEXT NOT NULL,
    "agency_code" TEXT NOT NULL,
    "business_day" CHAR(10) NOT NULL,
    "account_no" TEXT NOT NULL,
    "account_name" TEXT NOT NULL,
    "bank_name" TEXT NOT NULL,
    "amount_fen" BIGINT NOT NULL,
    "items" JSONB NOT NULL,
    "status" TEXT NOT NULL,
    "note" TEXT,
    "received_at" TIMESTAMPTZ(3) NOT NULL,
    "settled_at" TIMESTAMPTZ(3),

    CONSTRAINT "nontax_clearing_instruction_pkey" PRIMARY KEY ("instruction_id")
);

-- CreateIndex
CREATE INDEX "nontax_clearing_instruction_status_idx" ON "nontax_clearing_instruction"("status");
