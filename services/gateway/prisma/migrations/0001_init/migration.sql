-- CreateTable
CREATE TABLE "app" (
    "app_id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "agency_code" TEXT NOT NULL,
    "issuing_points" TEXT[],
    "sealed_secret" BYTEA NOT NULL,
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "created_by" TEXT NOT NULL,

    CONSTRAINT "app_pkey" PRIMARY KEY ("app_id")
);

-- CreateTable
CREATE TABLE "used_nonce" (
    "app_id" TEXT NOT NULL,
    "nonce" TEXT NOT NULL,
    "seen_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "used_nonce_pkey" PRIMARY KEY ("app_id","nonce")
);

-- CreateTable
CREATE TABLE "audit_log" (
    "id" BIGSERIAL NOT NULL,
    "actor" TEXT NOT NULL,
    "action" TEXT NOT NULL,
    "subject" TEXT NOT NULL,
    "detail" JSONB NOT NULL,
    "occurred_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "audit_log_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "app_agency_code_idx" ON "app"("agency_code");

-- CreateIndex
CREATE INDEX "used_nonce_seen_at_idx" ON "used_nonce"("seen_at");

-- CreateIndex
CREATE INDEX "audit_log_subject_idx" ON "audit_log"("subject");
