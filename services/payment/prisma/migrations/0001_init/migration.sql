-- CreateTable
CREATE TABLE "payment" (
    "id" UUID NOT NULL,
    "agency_code" TEXT NOT NULL,
    "biz_serial_no" TEXT NOT NULL,
    "request_sm3" CHAR(64) NOT NULL,
    "notice_no" TEXT NOT NULL,
    "payment_code" CHAR(20) NOT NULL,
    "decision_no" TEXT,
    "payer_sealed" BYTEA NOT NULL,
    "items" JSONB NOT NULL,
    "principal_fen" BIGINT NOT NULL,
    "fine_fen" BIGINT NOT NULL,
    "deadline" DATE,
    "surcharge_item_code" TEXT,
    "issuing_point_code" TEXT NOT NULL,
    "bill_code" CHAR(8) NOT NULL,
    "remark" TEXT,
    "status" TEXT NOT NULL,
    "paid_order_id" TEXT,
    "paid_at" TIMESTAMPTZ(3),
    "paid_fen" BIGINT,
    "surcharge_fen" BIGINT,
    "closed_at" TIMESTAMPTZ(3),
    "close_reason" TEXT,
    "receipt" JSONB,
    "requested_by" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "payment_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "payment_order" (
    "id" TEXT NOT NULL,
    "payment_id" UUID NOT NULL,
    "agency_code" TEXT NOT NULL,
    "channel" TEXT NOT NULL,
    "scene" TEXT NOT NULL,
    "amount_fen" BIGINT NOT NULL,
    "status" TEXT NOT NULL,
    "channel_trade_no" TEXT,
    "channel_account" TEXT NOT NULL,
    "pay_target" TEXT,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "opened_at" TIMESTAMPTZ(3) NOT NULL,
    "paid_at" TIMESTAMPTZ(3),
    "closed_at" TIMESTAMPTZ(3),
    "next_query_at" TIMESTAMPTZ(3) NOT NULL,
    "queries" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "payment_order_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "payment_anomaly" (
    "id" BIGSERIAL NOT NULL,
    "payment_id" UUID NOT NULL,
    "order_id" TEXT NOT NULL,
    "channel" TEXT NOT NULL,
    "channel_trade_no" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "amount_fen" BIGINT NOT NULL,
    "recorded_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "payment_anomaly_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "channel_notify" (
    "id" BIGSERIAL NOT NULL,
    "channel" TEXT NOT NULL,
    "order_id" TEXT,
    "verified" BOOLEAN NOT NULL,
    "outcome" TEXT NOT NULL,
    "received_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "channel_notify_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "payment_code_sequence" (
    "region" CHAR(6) NOT NULL,
    "year" INTEGER NOT NULL,
    "next" BIGINT NOT NULL,

    CONSTRAINT "payment_code_sequence_pkey" PRIMARY KEY ("region","year")
);

-- CreateTable
CREATE TABLE "channel_account" (
    "agency_code" TEXT NOT NULL,
    "channel" TEXT NOT NULL,
    "account_id" TEXT NOT NULL,
    "sealed" BYTEA NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_by" TEXT NOT NULL,

    CONSTRAINT "channel_account_pkey" PRIMARY KEY ("agency_code","channel")
);

-- CreateTable
CREATE TABLE "callback_target" (
    "agency_code" TEXT NOT NULL,
    "app_id" TEXT NOT NULL,
    "url" TEXT NOT NULL,
    "secret_sealed" BYTEA NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_by" TEXT NOT NULL,

    CONSTRAINT "callback_target_pkey" PRIMARY KEY ("agency_code","app_id")
);

-- CreateTable
CREATE TABLE "callback" (
    "id" UUID NOT NULL,
    "payment_id" UUID NOT NULL,
    "agency_code" TEXT NOT NULL,
    "app_id" TEXT NOT NULL,
    "event" TEXT NOT NULL,
    "body" JSONB NOT NULL,
    "status" TEXT NOT NULL,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "next_attempt_at" TIMESTAMPTZ(3) NOT NULL,
    "last_error" TEXT,
    "sent_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "callback_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "audit_log" (
    "id" BIGSERIAL NOT NULL,
    "actor" TEXT NOT NULL,
    "action" TEXT NOT NULL,
    "subject" TEXT NOT NULL,
    "detail" JSONB NOT NULL,
    "occurred_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "audit_log_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "payment_payment_code_key" ON "payment"("payment_code");

-- CreateIndex
CREATE INDEX "payment_agency_code_decision_no_idx" ON "payment"("agency_code", "decision_no");

-- CreateIndex
CREATE UNIQUE INDEX "payment_agency_code_biz_serial_no_key" ON "payment"("agency_code", "biz_serial_no");

-- CreateIndex
CREATE INDEX "payment_order_status_next_query_at_idx" ON "payment_order"("status", "next_query_at");

-- CreateIndex
CREATE INDEX "payment_order_payment_id_idx" ON "payment_order"("payment_id");

-- CreateIndex
CREATE UNIQUE INDEX "payment_order_channel_channel_trade_no_key" ON "payment_order"("channel", "channel_trade_no");

-- CreateIndex
CREATE UNIQUE INDEX "payment_anomaly_channel_channel_trade_no_key" ON "payment_anomaly"("channel", "channel_trade_no");

-- CreateIndex
CREATE INDEX "channel_notify_order_id_idx" ON "channel_notify"("order_id");

-- CreateIndex
CREATE INDEX "callback_status_next_attempt_at_idx" ON "callback"("status", "next_attempt_at");

-- CreateIndex
CREATE UNIQUE INDEX "callback_payment_id_event_key" ON "callback"("payment_id", "event");

-- CreateIndex
CREATE INDEX "audit_log_subject_idx" ON "audit_log"("subject");
