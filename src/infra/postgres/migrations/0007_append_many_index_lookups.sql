-- append_many's idempotency check looks each appended event id up by its index, whatever plan
-- the connection cached while the log was small (see the comment at the lookup).
CREATE OR REPLACE FUNCTION append_many(p_requests jsonb)
RETURNS TABLE (ord integer, outcome text, revision integer, "position" bigint, conflicting_ids uuid[])
LANGUAGE plpgsql AS $$
DECLARE
  v_n integer := jsonb_array_length(p_requests);
  v_outcome text[] := array_fill(NULL::text, ARRAY[v_n]);
  v_revision integer[] := array_fill(NULL::integer, ARRAY[v_n]);
  v_position bigint[] := array_fill(NULL::bigint, ARRAY[v_n]);
  v_conflicts text[] := array_fill(NULL::text, ARRAY[v_n]);
  v_failed_groups text[] := '{}';
  v_request jsonb;
  v_stream text;
  v_expected text;
  v_events jsonb;
  v_group text;
  v_count integer;
  v_current integer;
  v_first integer;
  v_found integer;
  v_matching integer;
  v_last_position bigint;
  v_ids uuid[];
  v_head bigint;
  v_inserted boolean := false;
  v_now timestamptz;
BEGIN
  IF v_n = 0 THEN
    RETURN;
  END IF;
  IF current_setting('transaction_isolation') <> 'read committed' THEN
    RAISE EXCEPTION 'append_many must run at READ COMMITTED, not %', current_setting('transaction_isolation');
  END IF;

  -- The same lock as append_to_stream: one order for the whole log.
  PERFORM pg_advisory_xact_lock(1112294742);
  v_now := clock_timestamp();

  FOR i IN 1..v_n LOOP
    v_request := p_requests->(i - 1);
    v_stream := v_request->>'stream';
    v_expected := v_request->>'expected';
    v_events := v_request->'events';
    v_group := v_request->>'group';
    v_count := jsonb_array_length(v_events);
    v_first := NULL;

    IF v_count > 0 THEN
      SELECT e.revision INTO v_first
        FROM events e WHERE e.event_id = (v_events->0->>'id')::uuid AND e.stream_name = v_stream;
      v_first := CASE
        WHEN v_expected = 'no_stream' THEN 0
        WHEN v_expected ~ '^-?[0-9]+$' THEN v_expected::integer + 1
        ELSE v_first
      END;
      SELECT count(*)::integer,
             count(*) FILTER (WHERE e.stream_name = v_stream AND e.revision = v_first + x.ord::integer - 1)::integer,
             max(e.position) FILTER (WHERE x.ord = v_count),
             array_agg(e.event_id ORDER BY x.ord)
        INTO v_found, v_matching, v_last_position, v_ids
        FROM jsonb_array_elements(v_events) WITH ORDINALITY AS x(event, ord)
        -- One index lookup per event id. As a plain join, a plan cached while the table was small
        -- (plpgsql keeps plans per connection) hash-joins against a sequential scan of the whole
        -- log: seen as 6,301 scans reading 37 million rows in 25 s of load. OFFSET 0 keeps the
        -- subquery from being flattened into such a join.
        CROSS JOIN LATERAL (
          SELECT ev.event_id, ev.stream_name, ev.revision, ev.position
            FROM events ev WHERE ev.event_id = (x.event->>'id')::uuid OFFSET 0
        ) e;
      IF v_found > 0 THEN
        IF v_found = v_count AND v_matching = v_count THEN
          v_outcome[i] := 'replay';
          v_revision[i] := v_first + v_count - 1;
          v_position[i] := v_last_position;
        ELSE
          v_outcome[i] := 'duplicate_event_id';
          v_conflicts[i] := array_to_string(v_ids, ',');
          IF v_group IS NOT NULL THEN v_failed_groups := v_failed_groups || v_group; END IF;
        END IF;
        CONTINUE;
      END IF;
    END IF;

    v_current := NULL;
    v_last_position := NULL;
    SELECT e.revision, e.position INTO v_current, v_last_position
      FROM events e WHERE e.stream_name = v_stream ORDER BY e.revision DESC LIMIT 1;
    IF NOT (v_expected = 'any'
         OR (v_expected = 'no_stream' AND v_current IS NULL)
         OR (v_expected = 'stream_exists' AND v_current IS NOT NULL)
         OR (v_expected ~ '^-?[0-9]+$' AND v_expected::integer IS NOT DISTINCT FROM v_current)) THEN
      v_outcome[i] := 'wrong_expected_revision';
      v_revision[i] := v_current;
      IF v_group IS NOT NULL THEN v_failed_groups := v_failed_groups || v_group; END IF;
      CONTINUE;
    END IF;
    v_outcome[i] := 'valid';
    v_revision[i] := coalesce(v_current, -1);
    v_position[i] := coalesce(v_last_position, 0);
  END LOOP;

  SELECT coalesce(max(e.position), 0) INTO v_head FROM events e;
  FOR i IN 1..v_n LOOP
    CONTINUE WHEN v_outcome[i] <> 'valid';
    v_request := p_requests->(i - 1);
    v_group := v_request->>'group';
    IF v_group IS NOT NULL AND v_group = ANY (v_failed_groups) THEN
      v_outcome[i] := 'skipped';
      CONTINUE;
    END IF;
    v_events := v_request->'events';
    v_count := jsonb_array_length(v_events);
    v_outcome[i] := 'appended';
    CONTINUE WHEN v_count = 0;
    INSERT INTO events (position, event_id, stream_name, revision, type, data, metadata, recorded_at)
    SELECT v_head + x.ord, (x.event->>'id')::uuid, v_request->>'stream', v_revision[i] + x.ord::integer,
           x.event->>'type', x.event->'data', x.event->'metadata', v_now
      FROM jsonb_array_elements(v_events) WITH ORDINALITY AS x(event, ord);
    v_head := v_head + v_count;
    v_revision[i] := v_revision[i] + v_count;
    v_position[i] := v_head;
    v_inserted := true;
  END LOOP;
  IF v_inserted THEN
    PERFORM pg_notify('billing_ledger_events', v_head::text);
  END IF;

  RETURN QUERY
    SELECT s.i, v_outcome[s.i], v_revision[s.i], v_position[s.i],
           CASE WHEN v_conflicts[s.i] IS NULL THEN NULL ELSE string_to_array(v_conflicts[s.i], ',')::uuid[] END
      FROM generate_series(1, v_n) AS s(i);
END;
$$;
