-- AlterTable
ALTER TABLE "agency_certificate" ADD COLUMN     "revoked_at" TIMESTAMPTZ(3);
