-- A person marks a difference handled (差异处理): who, when, why. HANDLED is not OPEN, so the
-- day can be cleared; a rerun that finds the same difference again keeps the mark.
ALTER TABLE "payment_difference" ADD COLUMN "handled_by" TEXT;
ALTER TABLE "payment_difference" ADD COLUMN "handled_at" TIMESTAMPTZ(3);
ALTER TABLE "payment_difference" ADD COLUMN "handled_note" TEXT;

ALTER TABLE "funds_difference" ADD COLUMN "handled_by" TEXT;
ALTER TABLE "funds_difference" ADD COLUMN "handled_at" TIMESTAMPTZ(3);
ALTER TABLE "funds_difference" ADD COLUMN "handled_note" TEXT;

-- A refused clearing instruction sent again after a person's decision (重新发送): each re-send is
-- a new attempt at the non-tax system, under the key <id>-R<resends>; who decided it and why.
ALTER TABLE "clearing_instruction" ADD COLUMN "resends" INTEGER NOT NULL DEFAULT 0;
ALTER TABLE "clearing_instruction" ADD COLUMN "resent_by" TEXT;
ALTER TABLE "clearing_instruction" ADD COLUMN "resent_at" TIMESTAMPTZ(3);
ALTER TABLE "clearing_instruction" ADD COLUMN "resend_note" TEXT;
