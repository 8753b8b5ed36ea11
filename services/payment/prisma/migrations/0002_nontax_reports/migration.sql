-- CreateTable
CREATE TABLE "nontax_report" (
    "payment_id" UUID NOT NULL,
    "agency_code" TEXT NOT NULL,
    "payment_code" CHAR(20) NOT NULL,
    "body" JSONB NOT NULL,
    "status" TEXT NOT NULL,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "next_attempt_at" TIMESTAMPTZ(3) NOT NULL,
    "last_error" TEXT,
    "sent_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "nontax_report_pkey" PRIMARY KEY ("payment_id")
);

-- CreateIndex
CREATE INDEX "nontax_report_status_next_attempt_at_idx" ON "nontax_report"("status", "next_attempt_at");
