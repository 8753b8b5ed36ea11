-- AlterTable
ALTER TABLE "payment_difference" ADD COLUMN     "payment_id" TEXT,
ADD COLUMN     "receipt_id" TEXT;

-- AlterTable
ALTER TABLE "payment_refund" ADD COLUMN     "answer_lost" BOOLEAN NOT NULL DEFAULT false;

-- CreateTable
CREATE TABLE "payment_receipt" (
    "receipt_id" TEXT NOT NULL,
    "agency_code" TEXT NOT NULL,
    "biz_serial_no" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "original_receipt_id" TEXT,
    "bill_code" TEXT NOT NULL,
    "number" TEXT NOT NULL,
    "total_fen" BIGINT NOT NULL,
    "handling_person" TEXT NOT NULL,
    "issued_at" TIMESTAMPTZ(3) NOT NULL,
    "red_flushed_at" TIMESTAMPTZ(3),
    "red_receipt_id" TEXT,

    CONSTRAINT "payment_receipt_pkey" PRIMARY KEY ("receipt_id")
);

-- CreateTable
CREATE TABLE "payment_dayend" (
    "business_day" CHAR(10) NOT NULL,
    "planned_at" TIMESTAMPTZ(3) NOT NULL,
    "planned_by" TEXT NOT NULL,

    CONSTRAINT "payment_dayend_pkey" PRIMARY KEY ("business_day")
);

-- CreateTable
CREATE TABLE "payment_dayend_task" (
    "business_day" CHAR(10) NOT NULL,
    "agency_code" TEXT NOT NULL,
    "leg" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "next_at" TIMESTAMPTZ(3) NOT NULL,
    "lease_until" TIMESTAMPTZ(3),
    "claimed_by" TEXT,
    "last_error" TEXT,
    "done_at" TIMESTAMPTZ(3),

    CONSTRAINT "payment_dayend_task_pkey" PRIMARY KEY ("business_day","agency_code","leg")
);

-- CreateIndex
CREATE INDEX "payment_receipt_agency_code_biz_serial_no_idx" ON "payment_receipt"("agency_code", "biz_serial_no");

-- CreateIndex
CREATE INDEX "payment_receipt_agency_code_issued_at_idx" ON "payment_receipt"("agency_code", "issued_at");

-- CreateIndex
CREATE INDEX "payment_dayend_task_status_next_at_idx" ON "payment_dayend_task"("status", "next_at");
