-- CreateTable
CREATE TABLE "nontax_notice" (
    "payment_code" CHAR(20) NOT NULL,
    "agency_code" TEXT NOT NULL,
    "biz_serial_no" TEXT NOT NULL,
    "request_sm3" CHAR(64) NOT NULL,
    "payer_name" TEXT NOT NULL,
    "items" JSONB NOT NULL,
    "principal_fen" BIGINT NOT NULL,
    "status" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "paid_at" TIMESTAMPTZ(3),
    "paid_fen" BIGINT,
    "surcharge_fen" BIGINT,
    "channel" TEXT,
    "channel_trade_no" TEXT,

    CONSTRAINT "nontax_notice_pkey" PRIMARY KEY ("payment_code")
);

-- CreateTable
CREATE TABLE "nontax_code_sequence" (
    "region" CHAR(6) NOT NULL,
    "year" INTEGER NOT NULL,
    "next" BIGINT NOT NULL,

    CONSTRAINT "nontax_code_sequence_pkey" PRIMARY KEY ("region","year")
);

-- CreateIndex
CREATE UNIQUE INDEX "nontax_notice_agency_code_biz_serial_no_key" ON "nontax_notice"("agency_code", "biz_serial_no");
