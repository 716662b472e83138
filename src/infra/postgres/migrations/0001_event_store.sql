-- The event store: one table, appended to only through append_to_stream().

CREATE TABLE events (
  -- Global position: 1, 2, 3, ... in commit order (see append_to_stream).
  position     bigint      PRIMARY KEY,
  event_id     uuid        NOT NULL UNIQUE,
  stream_name  text        NOT NULL,
  revision     integer     NOT NULL,
  type         text        NOT NULL,
  data         jsonb       NOT NULL,
  metadata     jsonb       NOT NULL,
  recorded_at  timestamptz NOT NULL,
  UNIQUE (stream_name, revision)
);

-- Why appends are serialised.
--
-- A follower reads "position > checkpoint". If positions came from a bigserial taken at insert
-- time, two concurrent appends could commit out of order: 11 becomes visible, the follower
-- checkpoints 11, then 10 commits and is never read. So every append takes one
-- transaction-scoped advisory lock before it computes its positions, and holds it until its
-- commit. PostgreSQL makes a transaction visible before it releases its locks, so the next
-- append can only number its events after the previous one is visible: commit order equals
-- position order, any snapshot sees a prefix of the log, and positions have no gaps.
--
-- The alternative (bigserial plus transaction ids, reading only below pg_snapshot_xmin) keeps
-- appends parallel, but orders the log by (xid, position), which is not one increasing bigint,
-- and the port's checkpoint is one bigint. The price of the lock is one append at a time;
-- it is held only inside this function (one round trip, no client work under it) until the
-- commit's WAL flush, and batching events into one append amortises it: see
-- `npm run bench event-store` for the figures.
--
-- Returns one row: outcome 'appended' | 'replay' (every id already stored exactly where this
-- append would put it: nothing written) | 'wrong_expected_revision' | 'duplicate_event_id'.
-- Must run in its own READ COMMITTED transaction (autocommit), so that each statement after the
-- lock sees the previous append.
CREATE FUNCTION append_to_stream(p_stream text, p_expected text, p_events jsonb)
RETURNS TABLE (outcome text, revision integer, "position" bigint, conflicting_ids uuid[])
LANGUAGE plpgsql AS $$
DECLARE
  v_count integer := jsonb_array_length(p_events);
  v_current integer;
  v_first integer;
  v_found integer;
  v_matching integer;
  v_last_position bigint;
  v_head bigint;
  v_now timestamptz;
BEGIN
  IF current_setting('transaction_isolation') <> 'read committed' THEN
    RAISE EXCEPTION 'append_to_stream must run at READ COMMITTED, not %', current_setting('transaction_isolation');
  END IF;

  -- 0x42_4c_45_56 ('BLEV'): the one lock that orders the log.
  PERFORM pg_advisory_xact_lock(1112294742);
  v_now := clock_timestamp();

  -- Idempotency before the revision check: a late retry succeeds after the stream moved on.
  SELECT e.revision - (i.ord::integer - 1) INTO v_first
    FROM jsonb_array_elements(p_events) WITH ORDINALITY AS i(event, ord)
    JOIN events e ON e.event_id = (i.event->>'id')::uuid
   WHERE i.ord = 1 AND e.stream_name = p_stream;
  v_first := CASE
    WHEN p_expected = 'no_stream' THEN 0
    WHEN p_expected ~ '^-?[0-9]+$' THEN p_expected::integer + 1
    ELSE v_first
  END;
  SELECT count(*)::integer,
         count(*) FILTER (WHERE e.stream_name = p_stream AND e.revision = v_first + i.ord::integer - 1)::integer,
         max(e.position) FILTER (WHERE i.ord = v_count),
         array_agg(e.event_id ORDER BY i.ord)
    INTO v_found, v_matching, v_last_position, conflicting_ids
    FROM jsonb_array_elements(p_events) WITH ORDINALITY AS i(event, ord)
    JOIN events e ON e.event_id = (i.event->>'id')::uuid;
  IF v_found > 0 THEN
    IF v_found = v_count AND v_matching = v_count THEN
      RETURN QUERY SELECT 'replay', v_first + v_count - 1, v_last_position, NULL::uuid[];
    ELSE
      RETURN QUERY SELECT 'duplicate_event_id', NULL::integer, NULL::bigint, conflicting_ids;
    END IF;
    RETURN;
  END IF;

  SELECT max(e.revision), max(e.position) INTO v_current, v_last_position
    FROM events e WHERE e.stream_name = p_stream;
  IF NOT (p_expected = 'any'
       OR (p_expected = 'no_stream' AND v_current IS NULL)
       OR (p_expected = 'stream_exists' AND v_current IS NOT NULL)
       OR (p_expected ~ '^-?[0-9]+$' AND p_expected::integer IS NOT DISTINCT FROM v_current)) THEN
    RETURN QUERY SELECT 'wrong_expected_revision', v_current, NULL::bigint, NULL::uuid[];
    RETURN;
  END IF;
  IF v_count = 0 THEN
    RETURN QUERY SELECT 'appended', coalesce(v_current, -1), coalesce(v_last_position, 0::bigint), NULL::uuid[];
    RETURN;
  END IF;

  SELECT coalesce(max(e.position), 0) INTO v_head FROM events e;
  INSERT INTO events (position, event_id, stream_name, revision, type, data, metadata, recorded_at)
  SELECT v_head + i.ord, (i.event->>'id')::uuid, p_stream, coalesce(v_current, -1) + i.ord::integer,
         i.event->>'type', i.event->'data', i.event->'metadata', v_now
    FROM jsonb_array_elements(p_events) WITH ORDINALITY AS i(event, ord);
  -- Delivered at commit; followers also poll, so a lost notification costs latency only.
  PERFORM pg_notify('billing_ledger_events', (v_head + v_count)::text);
  RETURN QUERY SELECT 'appended', coalesce(v_current, -1) + v_count, v_head + v_count, NULL::uuid[];
END;
$$;
