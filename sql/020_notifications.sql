-- 020 notifications: alerts reach people (e-mail and the in-app centre).
--
--  * youth.referent_account_id: the following referent (who registered the
--    young person; reassignable), placements.proposed_by: who proposed;
--  * notifications: one row per person and event, written by a trigger on
--    the webhooks' outbox (same transaction as the change that caused the
--    event) or by the scheduler's proposal reminders; each row says how it
--    is mailed (immediate, digest, off: the person's preference when it was
--    written, changed with the preference while not yet mailed);
--  * notification_prefs: per person and kind; notification_digests: one
--    digest per person per day (the primary key: several instances never
--    send two);
--  * mail_outbox gains the young people a mail mentions (erasure removes
--    the mails not yet sent) and its List-Unsubscribe target;
--  * notification_secret: the key of the unsubscribe links (HMAC), when the
--    config gives none.
--
-- The trigger functions and what they call are here, in public (see
-- sql/README.md); the functions the API calls are in
-- sql/functions/notifications.sql.

ALTER TABLE youth ADD COLUMN referent_account_id bigint REFERENCES accounts(id);
ALTER TABLE placements ADD COLUMN proposed_by bigint REFERENCES accounts(id);

CREATE TABLE notification_prefs (
    account_id bigint NOT NULL REFERENCES accounts(id),
    kind       text NOT NULL CONSTRAINT ck_notification_prefs__kind CHECK (kind IN (
                   'stay_ending', 'stay_overdue', 'proposal_new', 'proposal_answered',
                   'proposal_reminder', 'capacity_available')),
    mode       text NOT NULL CONSTRAINT ck_notification_prefs__mode CHECK (mode IN ('immediate', 'digest', 'off')),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, kind)
);

CREATE TABLE notifications (
    id              bigserial PRIMARY KEY,
    account_id      bigint NOT NULL REFERENCES accounts(id),
    kind            text NOT NULL CONSTRAINT ck_notifications__kind CHECK (kind IN (
                        'stay_ending', 'stay_overdue', 'proposal_new', 'proposal_answered',
                        'proposal_reminder', 'capacity_available')),
    event           text NOT NULL,             -- the outbox type, or proposal.reminder / proposal.last_day
    dedup_key       text NOT NULL,
    outbox_id       bigint REFERENCES outbox(id),
    youth_id        bigint,
    placement_id    bigint,
    offer_id        bigint,
    data            jsonb NOT NULL,            -- the event's data: ids, dates and codes only
    delivery        text NOT NULL CONSTRAINT ck_notifications__delivery CHECK (delivery IN ('immediate', 'digest', 'off')),
    lease_until     timestamptz,               -- an instance is building its mail
    mailed_at       timestamptz,
    mail_message_id text,
    read_at         timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account_id, dedup_key)
);
CREATE INDEX notifications_account_idx ON notifications (account_id, id);
CREATE INDEX notifications_unread_idx ON notifications (account_id) WHERE read_at IS NULL;
CREATE INDEX notifications_immediate_idx ON notifications (id) WHERE mailed_at IS NULL AND delivery = 'immediate';
CREATE INDEX notifications_digest_idx ON notifications (account_id, id) WHERE mailed_at IS NULL AND delivery = 'digest';
CREATE INDEX notifications_youth_idx ON notifications (youth_id);
CREATE INDEX notifications_message_idx ON notifications (mail_message_id) WHERE mail_message_id IS NOT NULL;

CREATE TABLE notification_digests (
    account_id bigint NOT NULL REFERENCES accounts(id),
    day        date NOT NULL,
    message_id text NOT NULL,
    items      integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, day)
);

ALTER TABLE mail_outbox ADD COLUMN youth_ids bigint[] NOT NULL DEFAULT '{}',
                        ADD COLUMN list_unsubscribe text;
CREATE INDEX mail_outbox_youth_idx ON mail_outbox USING gin (youth_ids);

CREATE TABLE notification_secret (
    id     integer PRIMARY KEY CHECK (id = 1),
    secret bytea NOT NULL CHECK (length(secret) = 32)
);
-- gen_random_uuid() is from a cryptographic generator: 2 x 122 random bits
INSERT INTO notification_secret (id, secret)
VALUES (1, decode(left(replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', ''), 64), 'hex'));

---------------------------------------------------------------- who hears what

-- The mode of a kind for a person: their choice, else the default (stays
-- ending or overdue: immediately; everything else: the daily digest).
CREATE FUNCTION notification_mode(p_account bigint, p_kind text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT mode FROM notification_prefs WHERE account_id = p_account AND kind = p_kind),
                    CASE WHEN p_kind IN ('stay_ending', 'stay_overdue') THEN 'immediate' ELSE 'digest' END);
$$;

-- The following referent of a young person: referent_account_id while it is
-- an enabled account that reaches the young person (an admin, or a referent
-- of their département); otherwise (rows older than accounts, a referent
-- gone) every enabled referent of the département.
CREATE FUNCTION youth_followers(p_youth bigint) RETURNS bigint[]
LANGUAGE sql STABLE AS $$
    WITH y AS (SELECT departement, referent_account_id FROM youth WHERE id = p_youth AND erased_at IS NULL),
    own AS (
        SELECT a.id FROM y JOIN accounts a ON a.id = y.referent_account_id
        WHERE a.disabled_at IS NULL
          AND (a.role = 'admin' OR (a.role = 'referent' AND y.departement = ANY (a.departements)))
    )
    SELECT CASE WHEN EXISTS (SELECT 1 FROM own) THEN ARRAY(SELECT id FROM own)
                ELSE ARRAY(SELECT a.id FROM y, accounts a
                           WHERE a.role = 'referent' AND a.disabled_at IS NULL
                             AND y.departement = ANY (a.departements) ORDER BY a.id) END;
$$;

-- Who proposed a placement, while that account still reaches the young
-- person; else the young person's following referents.
CREATE FUNCTION placement_proposer(p_placement bigint) RETURNS bigint[]
LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        (SELECT ARRAY[a.id] FROM placements p JOIN youth y ON y.id = p.youth_id
                JOIN accounts a ON a.id = p.proposed_by
         WHERE p.id = p_placement AND a.disabled_at IS NULL AND y.erased_at IS NULL
           AND (a.role = 'admin' OR (a.role = 'referent' AND y.departement = ANY (a.departements)))),
        youth_followers((SELECT youth_id FROM placements WHERE id = p_placement)));
$$;

-- The porteur's people: its enabled accounts.
CREATE FUNCTION porteur_people(p_porteur bigint) RETURNS bigint[]
LANGUAGE sql STABLE AS $$
    SELECT ARRAY(SELECT id FROM accounts WHERE role = 'porteur' AND porteur_id = p_porteur
                 AND disabled_at IS NULL ORDER BY id);
$$;

-- One notification per person (once per dedup key), with the person's mode.
CREATE FUNCTION notification_add(p_accounts bigint[], p_kind text, p_event text, p_key text,
                                 p_outbox bigint, p_data jsonb) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO notifications (account_id, kind, event, dedup_key, outbox_id, youth_id, placement_id,
                               offer_id, data, delivery)
    SELECT a, p_kind, p_event, p_key, p_outbox, (p_data->>'youth_id')::bigint,
           (p_data->>'placement_id')::bigint, (p_data->>'offer_id')::bigint, p_data,
           notification_mode(a, p_kind)
    FROM (SELECT DISTINCT unnest(p_accounts) AS a) x
    WHERE a IS NOT NULL
    ON CONFLICT (account_id, dedup_key) DO NOTHING;
$$;

-- The outbox's events, as people hear them (DESIGN, issue 15 item 1).
CREATE FUNCTION outbox_notifications() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE d jsonb := NEW.data; c jsonb; v_kind text;
BEGIN
    IF NEW.type IN ('stay.ending_soon', 'stay.overdue') THEN
        v_kind := CASE NEW.type WHEN 'stay.overdue' THEN 'stay_overdue' ELSE 'stay_ending' END;
        PERFORM notification_add(youth_followers((d->>'youth_id')::bigint) || porteur_people(NEW.porteur_id),
                                 v_kind, NEW.type, NEW.dedup_key, NEW.id, d);
    ELSIF NEW.type = 'placement.status_changed' THEN
        IF d->>'status' = 'proposed' THEN
            PERFORM notification_add(porteur_people(NEW.porteur_id), 'proposal_new', NEW.type,
                                     NEW.dedup_key, NEW.id, d);
        ELSIF d->>'status' IN ('accepted', 'refused') AND d->>'previous_status' = 'proposed' THEN
            PERFORM notification_add(placement_proposer((d->>'placement_id')::bigint), 'proposal_answered',
                                     NEW.type, NEW.dedup_key, NEW.id, d);
        END IF;
    ELSIF NEW.type = 'hold.expired' THEN
        PERFORM notification_add(placement_proposer((d->>'placement_id')::bigint), 'proposal_answered',
                                 NEW.type, NEW.dedup_key, NEW.id, d || jsonb_build_object('status', 'expired'));
    ELSIF NEW.type = 'offer.capacity_available' THEN
        -- the following referents of the three best waiting candidates, one
        -- notification per candidate (each names its own file); not again
        -- while one about the same young person is unread (an import that
        -- opens many offers would otherwise bury the centre)
        FOR c IN SELECT x FROM jsonb_array_elements(d->'candidates') WITH ORDINALITY AS t(x, n)
                 WHERE n <= 3 ORDER BY n LOOP
            PERFORM notification_add(ARRAY(
                        SELECT a FROM unnest(youth_followers((c->>'youth_id')::bigint)) a
                        WHERE NOT EXISTS (SELECT 1 FROM notifications u
                                          WHERE u.youth_id = (c->>'youth_id')::bigint AND u.account_id = a
                                            AND u.kind = 'capacity_available' AND u.read_at IS NULL)),
                                     'capacity_available', NEW.type,
                                     NEW.dedup_key || ':' || (c->>'youth_id'), NEW.id,
                                     (d - 'candidates') || jsonb_build_object('youth_id', (c->>'youth_id')::bigint,
                                                                              'score', c->'score'));
        END LOOP;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER outbox_notifications_insert AFTER INSERT ON outbox
    FOR EACH ROW WHEN (NEW.ready) EXECUTE FUNCTION outbox_notifications();
-- offer.capacity_available is written unready; its candidates come later
CREATE TRIGGER outbox_notifications_ready AFTER UPDATE OF ready ON outbox
    FOR EACH ROW WHEN (NEW.ready AND NOT OLD.ready) EXECUTE FUNCTION outbox_notifications();

-- Erasing a young person (DELETE /v1/youth/{id}, or retention) removes them
-- from the notifications and from the mails not yet sent. A digest not yet
-- sent that named them goes too, and its other items wait for the next
-- digest run (its day's key is released).
CREATE FUNCTION youth_erased_notifications() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH gone AS (
        DELETE FROM mail_outbox WHERE youth_ids @> ARRAY[NEW.id] AND sent_at IS NULL AND failed_at IS NULL
        RETURNING message_id
    ), digests AS (
        DELETE FROM notification_digests WHERE message_id IN (SELECT message_id FROM gone)
    )
    UPDATE notifications SET mailed_at = NULL, mail_message_id = NULL
    WHERE mail_message_id IN (SELECT message_id FROM gone) AND youth_id IS DISTINCT FROM NEW.id;
    DELETE FROM notifications WHERE youth_id = NEW.id;
    -- the mails already sent (their bodies are gone) no longer point at them
    UPDATE mail_outbox SET youth_ids = array_remove(youth_ids, NEW.id) WHERE youth_ids @> ARRAY[NEW.id];
    RETURN NULL;
END $$;

CREATE TRIGGER youth_erased_notifications AFTER UPDATE OF erased_at ON youth
    FOR EACH ROW WHEN (NEW.erased_at IS NOT NULL AND OLD.erased_at IS NULL)
    EXECUTE FUNCTION youth_erased_notifications();
