-- CreateTable
CREATE TABLE "trusted_certificate" (
    "sm3" TEXT NOT NULL,
    "role" TEXT NOT NULL,
    "pem" TEXT NOT NULL,
    "subject" TEXT NOT NULL,
    "not_before" TIMESTAMPTZ(3) NOT NULL,
    "not_after" TIMESTAMPTZ(3) NOT NULL,
    "published_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "trusted_certificate_pkey" PRIMARY KEY ("sm3")
);
