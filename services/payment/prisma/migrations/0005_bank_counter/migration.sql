-- CreateTable
CREATE TABLE "bank_transaction" (
    "bank_code" TEXT NOT NULL,
    "bank_serial_no" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "agency_code" TEXT NOT NULL,
    "request_sm3" CHAR(64) NOT NULL,
    "payment_id" UUID NOT NULL,
    "order_id" TEXT NOT NULL,
    "amount_fen" BIGINT NOT NULL,
    "status" TEXT NOT NULL,
    "reverses" TEXT,
    "answer" JSONB NOT NULL,
    "recorded_at" TIMESTAMPTZ(3) NOT NULL,
    "reversed_at" TIMESTAMPTZ(3),

    CONSTRAINT "bank_transaction_pkey" PRIMARY KEY ("bank_code","bank_serial_no")
);

-- CreateTable
CREATE TABLE "decision_source" (
    "agency_code" TEXT NOT NULL,
    "app_id" TEXT NOT NULL,
    "url" TEXT NOT NULL,
    "secret_sealed" BYTEA NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_by" TEXT NOT NULL,

    CONSTRAINT "decision_source_pkey" PRIMARY KEY ("agency_code")
);

-- CreateTable
CREATE TABLE "funds_reconciliation" (
    "agency_code" TEXT NOT NULL,
    "settlement_day" CHAR(10) NOT NULL,
    "arrival_day" CHAR(10) NOT NULL,
    "matched" INTEGER NOT NULL,
    "differences" INTEGER NOT NULL,
    "expected_fen" BIGINT NOT NULL,
    "arrived_fen" BIGINT NOT NULL,
    "ran_at" TIMESTAMPTZ(3) NOT NULL,
    "ran_by" TEXT NOT NULL,

    CONSTRAINT "funds_reconciliation_pkey" PRIMARY KEY ("agency_code","settlement_day")
);

-- CreateTable
CREATE TABLE "funds_difference" (
    "id" BIGSERIAL NOT NULL,
    "agency_code" TEXT NOT NULL,
    "settlement_day" CHAR(10) NOT NULL,
    "kind" TEXT NOT NULL,
    "channel" TEXT,
    "entry_ref" TEXT,
    "debtor_account" TEXT,
    "expected_fen" BIGINT,
    "arrived_fen" BIGINT,
    "found_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "funds_difference_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "bank_transaction_order_id_idx" ON "bank_transaction"("order_id");

-- CreateIndex
CREATE INDEX "funds_difference_agency_code_settlement_day_idx" ON "funds_difference"("agency_code", "settlement_day");
