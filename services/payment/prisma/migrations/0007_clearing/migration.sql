-- CreateTable
CREATE TABLE "clearing_account" (
    "agency_code" TEXT NOT NULL,
    "account_no" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "bank_name" TEXT NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_by" TEXT NOT NULL,

    CONSTRAINT "clearing_account_pkey" PRIMARY KEY ("agency_code","account_no")
);

-- CreateTable
CREATE TABLE "clearing_rule" (
    "agency_code" TEXT NOT NULL,
    "item_code" TEXT NOT NULL,
    "shares" JSONB NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_by" TEXT NOT NULL,

    CONSTRAINT "clearing_rule_pkey" PRIMARY KEY ("agency_code","item_code")
);

-- CreateTable
CREATE TABLE "clearing_batch" (
    "id" UUID NOT NULL,
    "agency_code" TEXT NOT NULL,
    "business_day" CHAR(10) NOT NULL,
    "collected_fen" BIGINT NOT NULL,
    "refunded_fen" BIGINT NOT NULL,
    "payments" INTEGER NOT NULL,
    "status" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "created_by" TEXT NOT NULL,

    CONSTRAINT "clearing_batch_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "clearing_instruction" (
    "id" UUID NOT NULL,
    "batch_id" UUID NOT NULL,
    "agency_code" TEXT NOT NULL,
    "business_day" CHAR(10) NOT NULL,
    "account_no" TEXT NOT NULL,
    "account_name" TEXT NOT NULL,
    "bank_name" TEXT NOT NULL,
    "collected_fen" BIGINT NOT NULL,
    "refunded_fen" BIGINT NOT NULL,
    "amount_fen" BIGINT NOT NULL,
    "items" JSONB NOT NULL,
    "status" TEXT NOT NULL,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "next_attempt_at" TIMESTAMPTZ(3) NOT NULL,
    "last_error" TEXT,
    "note" TEXT,
    "sent_at" TIMESTAMPTZ(3),
    "settled_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "clearing_instruction_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "clearing_batch_agency_code_business_day_key" ON "clearing_batch"("agency_code", "business_day");

-- CreateIndex
CREATE INDEX "clearing_instruction_status_next_attempt_at_idx" ON "clearing_instruction"("status", "next_attempt_at");

-- CreateIndex
CREATE UNIQUE INDEX "clearing_instruction_batch_id_account_no_key" ON "clearing_instruction"("batch_id", "account_no");
