-- notifications.sql (schema api, see sql/README.md): notifications to people
-- (daemon/notify.c): what each one says, the immediate mails and the daily
-- digests (one per person per day), the proposal reminders, the in-app
-- centre, preferences and unsubscribing. Tables and the triggers that write
-- notifications from the outbox: migration 020.

CREATE FUNCTION notification_kinds() RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY['stay_ending', 'stay_overdue', 'proposal_new', 'proposal_answered',
                 'proposal_reminder', 'capacity_available'];
$$;

-- STABLE as to_char is: so it is inlined where it is called (declared
-- IMMUTABLE, it ran as a function call of its own for every date of every
-- notification rendered)
CREATE FUNCTION notification_fr_date(d date) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT to_char(d, 'DD/MM/YYYY');
$$;

-- What notifications say to their person, in French, for a set of them at
-- once (a batch of digests, a page of the centre: one query, not one call
-- per item): {id, kind, event, title, text, link (a path under /ui/),
-- urgent, youth_id, placement_id, offer_id, created_at, read_at}. A
-- referent (or an admin) reads the young person's file reference; a porteur
-- only the offer, the dates and the age band. Nothing about health or
-- situation.
CREATE FUNCTION notification_views(p_ids bigint[], today date)
RETURNS TABLE (id bigint, account_id bigint, view jsonb)
LANGUAGE sql STABLE AS $$
    SELECT n.id, n.account_id, jsonb_build_object('id', n.id, 'kind', n.kind, 'event', n.event,
        'youth_id', n.youth_id, 'placement_id', n.placement_id, 'offer_id', n.offer_id,
        'created_at', n.created_at, 'read_at', n.read_at,
        'urgent', CASE WHEN n.kind = 'stay_overdue' OR n.event = 'proposal.last_day' THEN true
                       WHEN n.kind = 'stay_ending' THEN x.end_date - today <= 7
                       ELSE false END,
        'title', CASE n.kind
            WHEN 'stay_ending' THEN CASE WHEN x.end_date - today <= 0 THEN 'Fin de séjour aujourd''hui'
                                         WHEN x.end_date - today = 1 THEN 'Fin de séjour demain'
                                         ELSE format('Fin de séjour dans %s jours', x.end_date - today) END
            WHEN 'stay_overdue' THEN 'Séjour à clôturer : la fin prévue est dépassée'
            WHEN 'proposal_new' THEN 'Nouvelle proposition à examiner'
            WHEN 'proposal_answered' THEN CASE x.d->>'status' WHEN 'accepted' THEN 'Proposition acceptée'
                                                              WHEN 'refused' THEN 'Proposition refusée'
                                                              ELSE 'Proposition expirée' END
            WHEN 'proposal_reminder' THEN CASE n.event WHEN 'proposal.last_day'
                                               THEN 'Dernier jour pour répondre à une proposition'
                                               ELSE 'Rappel : une proposition attend votre réponse' END
            WHEN 'capacity_available' THEN 'Une place se libère'
        END,
        'text', CASE n.kind
            WHEN 'stay_ending' THEN format('Le séjour à « %s » (%s) se termine le %s.', x.label, x.who,
                                           notification_fr_date(x.end_date))
            WHEN 'stay_overdue' THEN format('Le séjour à « %s » (%s) devait se terminer le %s : '
                                            'enregistrez la sortie ou une prolongation.', x.label, x.who,
                                            notification_fr_date(x.end_date))
            WHEN 'proposal_new' THEN format('Une orientation vers « %s » est proposée (%s), entrée prévue '
                                            'le %s.%s', x.label, x.who,
                                            notification_fr_date((x.d->>'start_date')::date),
                                            CASE WHEN x.hold_until IS NOT NULL THEN format(
                                                ' Réponse attendue avant le %s.', notification_fr_date(x.hold_until))
                                                 ELSE '' END)
            WHEN 'proposal_answered' THEN format('La proposition vers « %s » (%s, entrée prévue le %s) %s.',
                x.label, x.who, notification_fr_date((x.d->>'start_date')::date),
                CASE x.d->>'status' WHEN 'accepted' THEN 'a été acceptée par le porteur'
                    WHEN 'refused' THEN 'a été refusée' || CASE x.d->>'refusal_reason'
                        WHEN 'youth_declined' THEN ' (refus du jeune)'
                        WHEN 'no_show' THEN ' (ne s''est pas présenté)'
                        WHEN 'incompatible_needs' THEN ' (besoins incompatibles avec l''offre)'
                        WHEN 'place_unavailable' THEN ' (place plus disponible)'
                        WHEN 'incomplete_file' THEN ' (dossier incomplet)'
                        ELSE '' END
                    ELSE 'a expiré sans suite' END)
            WHEN 'proposal_reminder' THEN CASE n.event WHEN 'proposal.last_day'
                THEN format('La proposition vers « %s » (%s, entrée prévue le %s) expire demain, le %s, '
                            'sans réponse.', x.label, x.who, notification_fr_date((x.d->>'start_date')::date),
                            notification_fr_date(x.hold_until))
                ELSE format('Une orientation vers « %s » (%s, entrée prévue le %s) attend votre réponse '
                            'depuis le %s.', x.label, x.who, notification_fr_date((x.d->>'start_date')::date),
                            notification_fr_date(x.created_on)) END
            WHEN 'capacity_available' THEN format('Une place de « %s » est libre à partir du %s : le %s '
                'fait partie des meilleurs candidats.', x.label,
                notification_fr_date(greatest((x.d->>'on')::date, today)), x.who)
        END,
        'link', CASE WHEN n.kind IN ('stay_ending', 'stay_overdue') THEN '#/stays'
                     WHEN a.role = 'porteur' THEN '#/porteur'
                     WHEN n.youth_id IS NOT NULL THEN '#/youth/' || n.youth_id
                     ELSE '#/' END)
    FROM notifications n
    JOIN accounts a ON a.id = n.account_id
    LEFT JOIN offers o ON o.id = n.offer_id
    LEFT JOIN youth y ON y.id = n.youth_id
    LEFT JOIN placements p ON p.id = n.placement_id
    CROSS JOIN LATERAL (
        SELECT n.data AS d, o.label,
               CASE WHEN a.role IN ('referent', 'admin') AND y.ref IS NOT NULL
                    THEN format('dossier « %s »', y.ref)
                    ELSE format('jeune de %s ans', coalesce(y.age_band, youth_age_band(y.birth_date,
                         coalesce((n.data->>'start_date')::date, today)))) END AS who,
               p.hold_until, p.created_on,
               (n.data->>'planned_end_date')::date AS end_date) x
    WHERE n.id = ANY (p_ids);
$$;

---------------------------------------------------------------- mails

-- Immediate notifications not yet mailed, leased to this instance for
-- lease_seconds (a crash lets them come back; notification_mailed records
-- each once), with what each says.
CREATE FUNCTION notification_claim(today date, lim integer, lease_seconds integer)
RETURNS TABLE (id bigint, account_id bigint, email text, kind text, youth_id bigint, view jsonb)
LANGUAGE sql AS $$
    WITH due AS (
        -- a disabled account's wait (mailed if it is enabled again)
        SELECT n.id FROM notifications n JOIN accounts a ON a.id = n.account_id AND a.disabled_at IS NULL
        WHERE n.mailed_at IS NULL AND n.delivery = 'immediate'
          AND (n.lease_until IS NULL OR n.lease_until < now())
        ORDER BY n.id LIMIT lim
        FOR UPDATE OF n SKIP LOCKED
    ), leased AS (
        UPDATE notifications n SET lease_until = now() + make_interval(secs => lease_seconds)
        FROM due WHERE n.id = due.id
        RETURNING n.id
    )
    -- (the views read the rows as they were before the lease: the same words)
    SELECT v.id, a.id, a.email, v.view->>'kind', (v.view->>'youth_id')::bigint, v.view
    FROM notification_views(ARRAY(SELECT id FROM leased), today) v
    JOIN accounts a ON a.id = v.account_id
    WHERE a.disabled_at IS NULL
    ORDER BY v.id;
$$;

-- batch: [{id, mail}]: each notification still unmailed gets its mail
-- queued, in this transaction (a notification erased meanwhile gets none);
-- one statement for the batch.
CREATE FUNCTION notification_mailed(batch jsonb) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE v_mails jsonb;
BEGIN
    WITH b AS (
        SELECT (x->>'id')::bigint AS id, x->'mail' AS mail FROM jsonb_array_elements(batch) x
    ), done AS (
        UPDATE notifications n SET mailed_at = now(), mail_message_id = b.mail->>'message_id', lease_until = NULL
        FROM b WHERE n.id = b.id AND n.mailed_at IS NULL
        RETURNING n.account_id, b.mail
    )
    SELECT jsonb_agg(jsonb_build_object('account_id', account_id, 'mail', mail)) INTO v_mails FROM done;
    RETURN mail_enqueue_all(v_mails);
END $$;

-- People whose daily digest is due today (at or after digest_hour, which
-- the daemon checks) and not yet built, of lane `lane` of `lanes` (account
-- id modulo lanes: the daemon builds the lanes side by side) after account
-- p_after in id order (a day's run goes through the people once, batch
-- after batch; 0 starts again): their unmailed digest items, most urgent
-- first (stays ending in 7 days or less, overdue, last days), then by id; at
-- most 100 items a digest (the rest wait for the next one). One query for
-- the batch.
CREATE FUNCTION notification_digest_due(today date, lim integer, p_after bigint, lanes integer, lane integer)
RETURNS TABLE (account_id bigint, email text, items jsonb)
LANGUAGE sql STABLE AS $$
    WITH people AS (
        SELECT a.id FROM accounts a
        WHERE a.id > p_after AND a.id % greatest(lanes, 1) = lane AND a.disabled_at IS NULL
          AND EXISTS (SELECT 1 FROM notifications n
                      WHERE n.account_id = a.id AND n.mailed_at IS NULL AND n.delivery = 'digest')
          AND NOT EXISTS (SELECT 1 FROM notification_digests g WHERE g.account_id = a.id AND g.day = today)
        ORDER BY a.id LIMIT lim
    ), items AS (
        SELECT i.id FROM people p CROSS JOIN LATERAL (
            SELECT n.id FROM notifications n
            WHERE n.account_id = p.id AND n.mailed_at IS NULL AND n.delivery = 'digest'
            ORDER BY n.id LIMIT 100) i
    )
    SELECT a.id, a.email, jsonb_agg(v.view ORDER BY (v.view->>'urgent')::boolean DESC, v.id)
    FROM notification_views(ARRAY(SELECT id FROM items), today) v
    JOIN accounts a ON a.id = v.account_id
    GROUP BY a.id, a.email
    ORDER BY a.id;
$$;

-- batch: [{account_id, ids, mail}]: one digest per person per day (the key
-- of notification_digests: another instance that built the same digest
-- finds it there, or its items mailed, and queues nothing). A digest one of
-- whose items vanished or was mailed meanwhile (an erasure, another
-- instance) is dropped, to be built again without it. One statement for the
-- batch; the items are locked in id order, as any other instance does.
CREATE FUNCTION notification_digested(batch jsonb, today date) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE v_mails jsonb;
BEGIN
    WITH b AS (
        SELECT (x->>'account_id')::bigint AS account_id, x->'mail' AS mail,
               ARRAY(SELECT jsonb_array_elements_text(x->'ids')::bigint) AS ids
        FROM jsonb_array_elements(batch) x
    ), locked AS MATERIALIZED (
        SELECT n.id, n.account_id FROM notifications n
        WHERE n.id IN (SELECT unnest(b.ids) FROM b) AND n.mailed_at IS NULL
        ORDER BY n.id
        FOR UPDATE
    ), have AS (
        -- a digest's items are its person's
        SELECT l.account_id, count(*) AS n FROM locked l GROUP BY l.account_id
    ), whole AS MATERIALIZED (
        SELECT b.* FROM b JOIN have h ON h.account_id = b.account_id AND h.n = cardinality(b.ids)
    ), kept AS (
        INSERT INTO notification_digests (account_id, day, message_id, items)
        SELECT w.account_id, today, w.mail->>'message_id', cardinality(w.ids) FROM whole w
        ON CONFLICT DO NOTHING
        RETURNING notification_digests.account_id
    ), marked AS (
        UPDATE notifications n SET mailed_at = now(), mail_message_id = w.mail->>'message_id'
        FROM whole w JOIN kept k ON k.account_id = w.account_id
        WHERE n.id = ANY (w.ids)
    )
    SELECT jsonb_agg(jsonb_build_object('account_id', w.account_id, 'mail', w.mail)) INTO v_mails
    FROM whole w JOIN kept k ON k.account_id = w.account_id;
    RETURN mail_enqueue_all(v_mails);
END $$;

-- Proposals left unanswered: a reminder to the porteur's people
-- reminder_days after the proposal, and again on the day before the hold
-- runs out (hold_until). Once each (the dedup keys). Returns how many
-- notifications were written.
CREATE FUNCTION notifications_reminders(today date, reminder_days integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE p record; n integer := 0; v_before integer;
BEGIN
    SELECT count(*) INTO v_before FROM notifications WHERE kind = 'proposal_reminder';
    FOR p IN
        SELECT pl.*, o.porteur_id FROM placements pl JOIN offers o ON o.id = pl.offer_id
        WHERE pl.status = 'proposed' AND pl.hold_until > today
          AND (pl.created_on <= today - reminder_days OR pl.hold_until = today + 1)
    LOOP
        IF p.created_on <= today - reminder_days THEN
            PERFORM notification_add(porteur_people(p.porteur_id), 'proposal_reminder', 'proposal.reminder',
                format('proposal.reminder:%s', p.id), NULL,
                jsonb_build_object('placement_id', p.id, 'offer_id', p.offer_id, 'porteur_id', p.porteur_id,
                                   'youth_id', p.youth_id, 'status', p.status, 'start_date', p.start_date,
                                   'planned_end_date', p.planned_end_date));
        END IF;
        IF p.hold_until = today + 1 THEN
            PERFORM notification_add(porteur_people(p.porteur_id), 'proposal_reminder', 'proposal.last_day',
                format('proposal.last_day:%s:%s', p.id, p.hold_until), NULL,
                jsonb_build_object('placement_id', p.id, 'offer_id', p.offer_id, 'porteur_id', p.porteur_id,
                                   'youth_id', p.youth_id, 'status', p.status, 'start_date', p.start_date,
                                   'planned_end_date', p.planned_end_date));
        END IF;
    END LOOP;
    SELECT count(*) - v_before INTO n FROM notifications WHERE kind = 'proposal_reminder';
    RETURN n;
END $$;

-- The key of the unsubscribe links, when the config gives none (hex).
CREATE FUNCTION notification_secret_hex() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT encode(secret, 'hex') FROM notification_secret WHERE id = 1;
$$;

---------------------------------------------------------------- the person's own

CREATE FUNCTION notification_need_account(p_account bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF p_account IS NULL OR p_account = 0 THEN
        -- as /v1/me/sessions: a token of no account has no such resource
        PERFORM siaod_fail(404, 'not-found', 'notifications belong to people: this token belongs to no account');
    END IF;
END $$;

-- f: {cursor, limit, unread}: newest first; `unread` counts all unread.
CREATE FUNCTION notification_list(p_account bigint, f jsonb, today date) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE v_ids bigint[]; v_more boolean; out jsonb;
BEGIN
    PERFORM notification_need_account(p_account);
    v_ids := ARRAY(
        SELECT n.id FROM notifications n
        WHERE n.account_id = p_account
          AND n.id < coalesce((f->>'cursor')::bigint, 9223372036854775807)
          AND (NOT coalesce((f->>'unread')::boolean, false) OR n.read_at IS NULL)
        ORDER BY n.id DESC LIMIT (f->>'limit')::integer + 1);
    v_more := cardinality(v_ids) > (f->>'limit')::integer;
    v_ids := v_ids[1:(f->>'limit')::integer];
    SELECT jsonb_build_object(
        'items', coalesce((SELECT jsonb_agg(v.view ORDER BY v.id DESC) FROM notification_views(v_ids, today) v), '[]'),
        'next_cursor', CASE WHEN v_more THEN v_ids[cardinality(v_ids)]::text END,
        'unread', (SELECT count(*) FROM notifications u WHERE u.account_id = p_account AND u.read_at IS NULL))
    INTO out;
    RETURN out;
END $$;

CREATE FUNCTION notification_read(p_account bigint, p_id bigint, today date) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM notification_need_account(p_account);
    UPDATE notifications SET read_at = coalesce(read_at, now())
    WHERE id = p_id AND account_id = p_account;
    IF NOT FOUND THEN
        PERFORM siaod_fail(404, 'not-found', format('notification %s does not exist', p_id));
    END IF;
    RETURN (SELECT v.view FROM notification_views(ARRAY[p_id], today) v);
END $$;

CREATE FUNCTION notification_prefs_json(p_account bigint, digest_hour integer) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('digest_hour', digest_hour, 'timezone', 'Europe/Paris',
        'items', jsonb_agg(jsonb_build_object('kind', k, 'mode', notification_mode(p_account, k),
            'default', notification_mode(0, k)) ORDER BY i))
    FROM unnest(notification_kinds()) WITH ORDINALITY AS t(k, i);
$$;

CREATE FUNCTION notification_prefs_get(p_account bigint, digest_hour integer) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    PERFORM notification_need_account(p_account);
    RETURN notification_prefs_json(p_account, digest_hour);
END $$;

-- Sets one kind's mode; the notifications not yet mailed follow it.
CREATE FUNCTION notification_set_mode(p_account bigint, p_kind text, p_mode text) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO notification_prefs (account_id, kind, mode) VALUES (p_account, p_kind, p_mode)
    ON CONFLICT (account_id, kind) DO UPDATE SET mode = excluded.mode, updated_at = now();
    UPDATE notifications SET delivery = p_mode
    WHERE account_id = p_account AND kind = p_kind AND mailed_at IS NULL AND delivery <> p_mode;
$$;

-- body: {"items": [{kind, mode}]} (the kinds given change, the others stay).
CREATE FUNCTION notification_prefs_put(p_account bigint, body jsonb, digest_hour integer, actor jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE it jsonb; i integer := 0;
BEGIN
    PERFORM notification_need_account(p_account);
    FOR it IN SELECT * FROM jsonb_array_elements(body->'items') LOOP
        IF NOT (it->>'kind' = ANY (notification_kinds())) THEN
            PERFORM siaod_field_error(400, format('/items/%s/kind', i), 'unknown_value', 'no such kind of notification');
        END IF;
        IF coalesce(it->>'mode', '') NOT IN ('immediate', 'digest', 'off') THEN
            PERFORM siaod_field_error(400, format('/items/%s/mode', i), 'unknown_value',
                'immediate, digest or off');
        END IF;
        PERFORM notification_set_mode(p_account, it->>'kind', it->>'mode');
        i := i + 1;
    END LOOP;
    PERFORM audit_write(actor, 'notification.preferences', 'account', p_account);
    RETURN notification_prefs_json(p_account, digest_hour);
END $$;

-- The one-click unsubscribe (RFC 8058), the link's signature already
-- checked: that kind off, or with 'digest' every kind the digest carried.
CREATE FUNCTION notification_unsubscribe(p_account bigint, p_kind text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE k text; v_kinds text[] := '{}';
BEGIN
    IF NOT EXISTS (SELECT 1 FROM accounts WHERE id = p_account) THEN
        PERFORM siaod_fail(404, 'not-found', 'this link is not valid');
    END IF;
    FOREACH k IN ARRAY notification_kinds() LOOP
        IF k = p_kind OR (p_kind = 'digest' AND notification_mode(p_account, k) = 'digest') THEN
            PERFORM notification_set_mode(p_account, k, 'off');
            v_kinds := v_kinds || k;
        END IF;
    END LOOP;
    INSERT INTO audit (role, action, entity, entity_id, outcome, status, account_id)
    VALUES ('system', 'notification.unsubscribe', 'account', p_account, 'ok', 200, p_account);
    RETURN jsonb_build_object('kinds', to_jsonb(v_kinds));
END $$;
