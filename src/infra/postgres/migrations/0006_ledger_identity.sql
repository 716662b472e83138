-- The identity of this event log: one row, a random uuid created once with the log.
-- Read models stamp their stores with it (e.g. the entitlements marker in Redis), so a store
-- that was emptied, restored from elsewhere or pointed at another log is told apart from
-- one built from this log, and rebuilt.
CREATE TABLE IF NOT EXISTS ledger_identity (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO ledger_identity DEFAULT VALUES ON CONFLICT (singleton) DO NOTHING;
