-- Stripe webhook inbox: every delivery is stored before it is acknowledged (ARCHITECTURE rule 1).
-- Unique on the Stripe event id, so a redelivery is a no-op.
CREATE TABLE IF NOT EXISTS stripe_inbox (
  stripe_event_id  text PRIMARY KEY,
  event_type       text NOT NULL,
  payload          jsonb NOT NULL,
  stripe_created   timestamptz NOT NULL,
  received_at      timestamptz NOT NULL DEFAULT now(),
  status           text NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'processed', 'unhandled', 'invalid')),
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  processed_at     timestamptz,
  outcome          jsonb,
  last_error       text
);

CREATE INDEX IF NOT EXISTS stripe_inbox_pending ON stripe_inbox (next_attempt_at) WHERE status = 'pending';

-- Checkpoints of the relay and of consumers whose effects live in PostgreSQL.
CREATE TABLE IF NOT EXISTS checkpoints (
  name        text PRIMARY KEY,
  position    bigint NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);
