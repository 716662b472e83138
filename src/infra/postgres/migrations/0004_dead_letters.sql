-- Consumer runtime (src/runtime): dead letters and per-partition checkpoints.
--
-- dead_letters: bus messages a consumer could not use, with the reason. A parsed event that
-- its read model refused (poison) keeps its payload, so `billing-ledger dead-letters replay`
-- can re-apply it once the cause is fixed; a message that is not a bus event keeps its raw
-- text. Redelivery of the same letter (a batch fetched again after a crash) records nothing new.
CREATE TABLE dead_letters (
  id               bigserial   PRIMARY KEY,
  consumer         text        NOT NULL,
  consumer_group   text        NOT NULL,
  topic            text        NOT NULL,
  kafka_partition  integer     NOT NULL,
  kafka_offset     bigint      NOT NULL,
  event_id         uuid,
  event_type       text,
  stream_name      text,
  log_position     bigint,
  reason           text        NOT NULL,
  payload          jsonb,
  raw              text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  replayed_at      timestamptz,
  CONSTRAINT dead_letters_event_once UNIQUE (consumer, event_id)
);

CREATE UNIQUE INDEX dead_letters_raw_once ON dead_letters (consumer, topic, kafka_partition, kafka_offset)
  WHERE event_id IS NULL;
CREATE INDEX dead_letters_pending ON dead_letters (consumer, id) WHERE replayed_at IS NULL;

-- consumer_checkpoints: where a PostgreSQL read model resumes, per partition, written in the
-- same transaction as its effect (the Kafka committed offset is only a fallback).
CREATE TABLE consumer_checkpoints (
  consumer         text        NOT NULL,
  kafka_partition  integer     NOT NULL,
  next_offset      bigint      NOT NULL,
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, kafka_partition)
);
