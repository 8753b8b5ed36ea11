-- Platform tables every service has beside its own: the transactional outbox and the
-- consumer inbox. Named with a zero timestamp so they apply before a service's own.

-- Events written in the same transaction as the state change they describe; the relay
-- publishes them in seq order and marks them. A crash between publish and mark means
-- the event goes out again: consumers dedupe by event id (piaoju_inbox).
CREATE TABLE "piaoju_outbox" (
  "seq"           BIGSERIAL PRIMARY KEY,
  "event_id"      UUID NOT NULL UNIQUE,
  "topic"         TEXT NOT NULL,
  "partition_key" TEXT NOT NULL,
  "envelope"      JSONB NOT NULL,
  "created_at"    TIMESTAMPTZ NOT NULL DEFAULT now(),
  "published_at"  TIMESTAMPTZ
);
CREATE INDEX "piaoju_outbox_pending" ON "piaoju_outbox" ("seq") WHERE "published_at" IS NULL;

-- One row per (consumer group, event) processed, written in the consumer's transaction.
CREATE TABLE "piaoju_inbox" (
  "consumer_group" TEXT NOT NULL,
  "event_id"       UUID NOT NULL,
  "event_type"     TEXT NOT NULL,
  "processed_at"   TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY ("consumer_group", "event_id")
);
CREATE INDEX "piaoju_inbox_processed_at" ON "piaoju_inbox" ("processed_at");
