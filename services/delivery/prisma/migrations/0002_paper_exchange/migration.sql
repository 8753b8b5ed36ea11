-- AlterTable
ALTER TABLE "receipt" ADD COLUMN     "paper_bill_code" TEXT,
ADD COLUMN     "paper_number" TEXT;
