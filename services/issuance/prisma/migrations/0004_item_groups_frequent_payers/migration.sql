-- CreateTable
CREATE TABLE "item_group" (
    "id" UUID NOT NULL,
    "agency_code" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "item_codes" TEXT[],
    "remark" TEXT,
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "created_by" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "item_group_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "frequent_payer" (
    "id" UUID NOT NULL,
    "agency_code" TEXT NOT NULL,
    "issuing_point_code" TEXT NOT NULL,
    "payer_type" SMALLINT NOT NULL,
    "sealed" BYTEA NOT NULL,
    "code_hash" CHAR(64) NOT NULL,
    "name_hash" CHAR(64) NOT NULL,
    "created_by" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "frequent_payer_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "item_group_agency_code_name_key" ON "item_group"("agency_code", "name");

-- CreateIndex
CREATE INDEX "frequent_payer_agency_code_issuing_point_code_idx" ON "frequent_payer"("agency_code", "issuing_point_code");

-- CreateIndex
CREATE INDEX "frequent_payer_agency_code_code_hash_idx" ON "frequent_payer"("agency_code", "code_hash");

-- CreateIndex
CREATE INDEX "frequent_payer_agency_code_name_hash_idx" ON "frequent_payer"("agency_code", "name_hash");
