-- AlterTable
ALTER TABLE "receipt" ADD COLUMN     "check_code_key_id" TEXT,
ADD COLUMN     "sealed_payer" BYTEA,
ADD COLUMN     "sealed_request" BYTEA,
ALTER COLUMN "payer_code" DROP NOT NULL,
ALTER COLUMN "payer_name" DROP NOT NULL,
ALTER COLUMN "request" DROP NOT NULL;
