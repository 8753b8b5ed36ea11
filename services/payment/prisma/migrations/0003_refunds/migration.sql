-- AlterTable
ALTER TABLE "payment" ADD COLUMN     "refunded_fen" BIGINT NOT NULL DEFAULT 0;

-- AlterTable
ALTER TABLE "payment_order" ADD COLUMN     "refunded_fen" BIGINT NOT NULL DEFAULT 0,
ADD COLUMN     "taken_fen" BIGINT;

-- CreateTable
CREATE TABLE "payment_refund" (
    "id" UUID NOT NULL,
    "payment_id" UUID NOT NULL,
    "agency_code" TEXT NOT NULL,
    "order_id" TEXT NOT NULL,
    "channel" TEXT NOT NULL,
    "channel_trade_no" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "refund_serial_no" TEXT NOT NULL,
    "amount_fen" BIGINT NOT NULL,
    "reason" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "refunded_at" TIMESTAMPTZ(3),
    "reported_at" TIMESTAMPTZ(3),
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "next_attempt_at" TIMESTAMPTZ(3) NOT NULL,
    "last_error" TEXT,
    "requested_by" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "payment_refund_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "payment_refund_status_next_attempt_at_idx" ON "payment_refund"("status", "next_attempt_at");

-- CreateIndex
CREATE INDEX "payment_refund_order_id_idx" ON "payment_refund"("order_id");

-- CreateIndex
CREATE UNIQUE INDEX "payment_refund_payment_id_refund_serial_no_key" ON "payment_refund"("payment_id", "refund_serial_no");

-- What each paid order took (hand-written): its amount, or what an anomaly recorded for it.
UPDATE "payment_order" o SET "taken_fen" = COALESCE(
    (SELECT a."amount_fen" FROM "payment_anomaly" a WHERE a."order_id" = o."id" LIMIT 1), o."amount_fen")
  WHERE o."status" = 'PAID';

-- Never more back than was taken, nor a refund of nothing (hand-written: Prisma's schema has no CHECK).
ALTER TABLE "payment_order" ADD CONSTRAINT "payment_order_refund_within_taken"
  CHECK ("refunded_fen" >= 0 AND "refunded_fen" <= COALESCE("taken_fen", 0));
ALTER TABLE "payment" ADD CONSTRAINT "payment_refund_within_paid"
  CHECK ("refunded_fen" >= 0 AND "refunded_fen" <= COALESCE("paid_fen", 0));
ALTER TABLE "payment_refund" ADD CONSTRAINT "payment_refund_amount_positive" CHECK ("amount_fen" > 0);
-- A duplicate payment is refunded once: one DUPLICATE refund per order.
CREATE UNIQUE INDEX "payment_refund_one_duplicate_per_order" ON "payment_refund"("order_id") WHERE "kind" = 'DUPLICATE';
