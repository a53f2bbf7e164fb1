-- 022 changes: other instances learn what changed from a change table, not
-- from a NOTIFY per transaction (issue 13, item 3).
--
-- A NOTIFY makes PostgreSQL take one database-wide lock at commit
-- (PreCommit_Notify) and hold it until the commit is flushed: every
-- transaction that notifies commits after the previous one, without group
-- commit. Each placement notified three times (008's triggers twice, the
-- outbox's fan-out once); a quarter of the benchmark's backends waited on it.
--
-- Now the inventory triggers of 008 write one row to inventory_changes, in
-- the transaction of the change; every instance reads the rows committed
-- since its last reading, about four times a second (daemon/changes.c,
-- function inventory_changes_since in sql/functions/inventory.sql). Rows
-- carry the id of the transaction that wrote them (xid), so a reader can
-- take exactly the transactions that committed between two snapshots,
-- whatever order their ids and commits came in (a sequence would not do: a
-- row numbered 10 may commit after a row numbered 11 was read). The writing
-- instance still refreshes itself right after its own writes (effects.c)
-- and skips its own rows, as it ignored its own NOTIFYs.
--
-- The outbox's fan-out no longer notifies either: every instance looks for
-- due deliveries every 500 ms anyway (daemon/webhooks.c, POLL_MS) and the
-- writing instance wakes its own delivery after each write. The rare NOTIFYs
-- stay: siaod_auth (an account disabled, sessions ended), siaod_mail, a
-- delivery retried by hand, the alert scan's.
--
-- The LANGUAGE sql helpers that the placement triggers call once per
-- placement become PL/pgSQL, same bodies: PostgreSQL 15 plans a SQL
-- function's statements again on every call, PL/pgSQL keeps its plans for
-- the session (siaod's pooled connections live long).

CREATE TABLE inventory_changes (
    xid       xid8 NOT NULL DEFAULT pg_current_xact_id(),  -- the writing (top) transaction
    offer_id  bigint,                                      -- re-read this offer (its places, its spans)
    youth_id  bigint,                                      -- re-read this young person
    -- the siaod instance whose session wrote it (its connections set
    -- siaod.origin): it re-reads what it writes itself, and skips these rows;
    -- NULL from any other session (psql, an import tool)
    origin    text DEFAULT current_setting('siaod.origin', true)
);
CREATE INDEX inventory_changes_xid_idx ON inventory_changes (xid);

-- Purging (inventory_changes_purge): the oldest running transaction seen at
-- a time; rows of transactions older than a mark kept for the retention
-- period were committed (or rolled back) that long ago, so every reader
-- that polls has read them.
CREATE TABLE inventory_change_marks (
    at     timestamptz PRIMARY KEY DEFAULT now(),
    oldest xid8 NOT NULL          -- pg_snapshot_xmin of a snapshot taken then
);

CREATE OR REPLACE FUNCTION notify_inventory() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'offers' THEN
        INSERT INTO inventory_changes (offer_id) VALUES (NEW.id);
    ELSIF TG_TABLE_NAME = 'places' THEN
        INSERT INTO inventory_changes (offer_id) VALUES (NEW.offer_id);
    ELSIF TG_TABLE_NAME = 'placements' THEN
        INSERT INTO inventory_changes (offer_id, youth_id) VALUES (NEW.offer_id, NEW.youth_id);
        -- a placement moved to another offer (never done today): the old one too
        IF TG_OP = 'UPDATE' AND OLD.offer_id <> NEW.offer_id THEN
            INSERT INTO inventory_changes (offer_id) VALUES (OLD.offer_id);
        END IF;
    ELSIF TG_TABLE_NAME = 'youth' THEN
        INSERT INTO inventory_changes (youth_id) VALUES (NEW.id);
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION outbox_fan_out(p_outbox bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO deliveries (outbox_id, webhook_id)
    SELECT e.id, w.id FROM outbox e, webhooks w
    WHERE e.id = p_outbox AND w.status = 'active' AND e.type = ANY (w.event_types)
      AND (w.scope_departement IS NULL OR w.scope_departement = ANY (e.departements))
      AND (w.scope_porteur_id IS NULL OR w.scope_porteur_id = e.porteur_id)
    ON CONFLICT DO NOTHING;
END $$;

CREATE OR REPLACE FUNCTION placement_event_data(p placements) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT jsonb_build_object('placement_id', p.id, 'offer_id', p.offer_id,
        'porteur_id', o.porteur_id, 'youth_id', p.youth_id, 'place_id', p.place_id,
        'status', p.status, 'start_date', p.start_date, 'planned_end_date', p.planned_end_date)
    FROM offers o WHERE o.id = p.offer_id);
END $$;

CREATE OR REPLACE FUNCTION placement_event_departements(p placements) RETURNS text[] LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN ARRAY[(SELECT departement FROM offers WHERE id = p.offer_id),
                 (SELECT departement FROM youth WHERE id = p.youth_id)];
END $$;

CREATE OR REPLACE FUNCTION offer_capacity_event(p_offer bigint, p_reason text, p_on date, p_key text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM outbox_emit('offer.capacity_available', p_key,
        jsonb_build_object('offer_id', o.id, 'porteur_id', o.porteur_id, 'reason', p_reason,
                           'on', p_on, 'candidates', '[]'::jsonb),
        ARRAY[o.departement], o.porteur_id, false)
    FROM offers o WHERE o.id = p_offer;
END $$;

CREATE OR REPLACE FUNCTION notification_mode(p_account bigint, p_kind text) RETURNS text
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN coalesce((SELECT mode FROM notification_prefs WHERE account_id = p_account AND kind = p_kind),
                    CASE WHEN p_kind IN ('stay_ending', 'stay_overdue') THEN 'immediate' ELSE 'digest' END);
END $$;

CREATE OR REPLACE FUNCTION youth_followers(p_youth bigint) RETURNS bigint[]
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (WITH y AS (SELECT departement, referent_account_id FROM youth WHERE id = p_youth AND erased_at IS NULL),
    own AS (
        SELECT a.id FROM y JOIN accounts a ON a.id = y.referent_account_id
        WHERE a.disabled_at IS NULL
          AND (a.role = 'admin' OR (a.role = 'referent' AND y.departement = ANY (a.departements)))
    )
    SELECT CASE WHEN EXISTS (SELECT 1 FROM own) THEN ARRAY(SELECT id FROM own)
                ELSE ARRAY(SELECT a.id FROM y, accounts a
                           WHERE a.role = 'referent' AND a.disabled_at IS NULL
                             AND y.departement = ANY (a.departements) ORDER BY a.id) END);
END $$;

CREATE OR REPLACE FUNCTION placement_proposer(p_placement bigint) RETURNS bigint[]
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN coalesce(
        (SELECT ARRAY[a.id] FROM placements p JOIN youth y ON y.id = p.youth_id
                JOIN accounts a ON a.id = p.proposed_by
         WHERE p.id = p_placement AND a.disabled_at IS NULL AND y.erased_at IS NULL
           AND (a.role = 'admin' OR (a.role = 'referent' AND y.departement = ANY (a.departements)))),
        youth_followers((SELECT youth_id FROM placements WHERE id = p_placement)));
END $$;

CREATE OR REPLACE FUNCTION porteur_people(p_porteur bigint) RETURNS bigint[]
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN ARRAY(SELECT id FROM accounts WHERE role = 'porteur' AND porteur_id = p_porteur
                 AND disabled_at IS NULL ORDER BY id);
END $$;

CREATE OR REPLACE FUNCTION notification_add(p_accounts bigint[], p_kind text, p_event text, p_key text,
                                            p_outbox bigint, p_data jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    -- nobody to tell (a porteur without accounts): no statement at all
    IF coalesce(cardinality(p_accounts), 0) = 0 THEN
        RETURN;
    END IF;
    INSERT INTO notifications (account_id, kind, event, dedup_key, outbox_id, youth_id, placement_id,
                               offer_id, data, delivery)
    SELECT a, p_kind, p_event, p_key, p_outbox, (p_data->>'youth_id')::bigint,
           (p_data->>'placement_id')::bigint, (p_data->>'offer_id')::bigint, p_data,
           notification_mode(a, p_kind)
    FROM (SELECT DISTINCT unnest(p_accounts) AS a) x
    WHERE a IS NOT NULL
    ON CONFLICT (account_id, dedup_key) DO NOTHING;
END $$;
