-- Audit log read model: one row per domain event, for support and compliance (who, what,
-- when, why, per customer). Written only by src/projections/audit/postgres-audit-log.ts.
--
-- Append-only, enforced here and not only by the code: a statement trigger refuses UPDATE,
-- DELETE and TRUNCATE before they touch anything (even a statement that would match no row),
-- and it is ENABLE ALWAYS, so `SET session_replication_role = replica`, the usual way to
-- skip triggers, does not skip it. INSERT ... ON CONFLICT DO NOTHING fires no UPDATE trigger,
-- so the consumer's replays are fine. A customer deleted in Stripe keeps its rows.
--
-- What this cannot stop: the table's owner running ALTER TABLE ... DISABLE TRIGGER or DROP
-- TABLE, which are schema changes, not data changes. In production, run the application as a
-- role that does not own the table and has only SELECT and INSERT on it
-- (GRANT SELECT, INSERT ON audit_log TO <app role>; nothing else), so only the migration role
-- can do either.
--
-- Rebuild (src/projections/audit/rebuild-audit-log.ts) never changes a row either: it fills a
-- new table, audit_log_next (same shape, made append-only at creation), from the event log,
-- then, holding a lock that pauses writers, catches up to the head of the log and renames
-- audit_log to audit_log_retired_<UTC stamp> and audit_log_next to audit_log in one
-- transaction. The retired table is kept; dropping it is a deliberate act by a DBA. There is
-- deliberately no "rebuilding" session setting that the trigger would honour: any session
-- could set it, so it would make the guarantee only as strong as every caller's care.

CREATE TABLE audit_log (
  event_id           uuid        PRIMARY KEY,
  customer_id        text        NOT NULL,
  subscription_id    text,
  event_type         text        NOT NULL,
  stream_name        text        NOT NULL,
  stream_revision    integer     NOT NULL,
  log_position       bigint      NOT NULL,
  summary            text        NOT NULL,
  -- [{ "field": ..., "before": ..., "after": ... }]
  changes            jsonb       NOT NULL,
  -- stripe | portal | saga | operator
  source             text,
  source_ref         text,
  stripe_event_id    text,
  stripe_event_type  text,
  correlation_id     text,
  causation_id       text,
  schema_version     integer     NOT NULL,
  occurred_at        timestamptz NOT NULL,
  recorded_at        timestamptz NOT NULL
);

-- The query API: one customer's trail in (occurred_at, log_position) order, keyset-paginated.
CREATE INDEX audit_log_customer_trail ON audit_log (customer_id, occurred_at, log_position);

CREATE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit log is append-only: % on % is refused', TG_OP, TG_TABLE_NAME
    USING HINT = 'Rows are never changed or removed. To rebuild the model, run the audit log rebuild (it fills a new table and swaps it in).';
END;
$$;

-- Used for audit_log here and for every table the rebuild creates.
CREATE FUNCTION audit_log_make_append_only(target regclass) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format(
    'CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON %s
       FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change()', target);
  EXECUTE format('ALTER TABLE %s ENABLE ALWAYS TRIGGER audit_log_append_only', target);
END;
$$;

SELECT audit_log_make_append_only('audit_log');
