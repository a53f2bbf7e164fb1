-- 028 a placement's event in fewer statements (issue 13). Its webhook event
-- and a new proposal's notifications went through nested helpers, each a
-- statement of its own (outbox_emit, outbox_fan_out; notification_add over
-- porteur_people); with many proposals in one transaction (placement_propose_many)
-- those statements were a third of a proposal's cost. The trigger now
-- reads the offer and the young person in one statement and writes the
-- event and its deliveries itself, and the outbox's trigger writes a new
-- proposal's notifications in one statement: the same rows as before,
-- column for column. The helpers stay for their other callers.
CREATE OR REPLACE FUNCTION placements_emit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_porteur bigint;
    v_odep text;
    v_ydep text;
    v_id bigint;
    v_deps text[];
    v_data jsonb;
BEGIN
    SELECT o.porteur_id, o.departement, y.departement INTO v_porteur, v_odep, v_ydep
    FROM offers o, youth y WHERE o.id = NEW.offer_id AND y.id = NEW.youth_id;
    v_deps := ARRAY[v_odep, v_ydep];
    -- placement_event_data(NEW), from the row at hand
    v_data := jsonb_build_object('placement_id', NEW.id, 'offer_id', NEW.offer_id,
        'porteur_id', v_porteur, 'youth_id', NEW.youth_id, 'place_id', NEW.place_id,
        'status', NEW.status, 'start_date', NEW.start_date, 'planned_end_date', NEW.planned_end_date);
    IF TG_OP = 'INSERT' OR NEW.status <> OLD.status THEN
        -- outbox_emit(...) and outbox_fan_out(...), written out
        INSERT INTO outbox (event_id, type, dedup_key, data, departements, porteur_id, ready)
        VALUES ('evt_' || replace(gen_random_uuid()::text, '-', ''), 'placement.status_changed',
                format('placement.status_changed:%s:%s:%s', NEW.id, NEW.status, NEW.version),
                v_data || jsonb_build_object('previous_status',
                    CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END,
                    'refusal_reason', NEW.refusal_reason, 'exit_destination', NEW.exit_destination),
                v_deps, v_porteur, true)
        ON CONFLICT (dedup_key) DO NOTHING
        RETURNING id INTO v_id;
        IF v_id IS NOT NULL THEN
            INSERT INTO deliveries (outbox_id, webhook_id)
            SELECT v_id, w.id FROM webhooks w
            WHERE w.status = 'active' AND 'placement.status_changed' = ANY (w.event_types)
              AND (w.scope_departement IS NULL OR w.scope_departement = ANY (v_deps))
              AND (w.scope_porteur_id IS NULL OR w.scope_porteur_id = v_porteur)
            ON CONFLICT DO NOTHING;
        END IF;
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.status = 'expired' AND OLD.status <> 'expired' THEN
        PERFORM outbox_emit('hold.expired', format('hold.expired:%s', NEW.id),
            v_data || jsonb_build_object('previous_status', OLD.status),
            v_deps, v_porteur);
    END IF;
    -- the place is free again: from the exit day, or for the whole hold
    IF TG_OP = 'UPDATE' AND NEW.status IN ('refused', 'cancelled', 'expired', 'ended')
       AND OLD.status IN ('proposed', 'accepted', 'active') THEN
        PERFORM offer_capacity_event(NEW.offer_id, 'place_freed',
            CASE WHEN NEW.status = 'ended' THEN NEW.actual_end_date ELSE NEW.start_date END,
            format('offer.capacity_available:placement:%s:%s', NEW.id, NEW.status));
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION outbox_notifications() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE d jsonb := NEW.data; c jsonb; v_kind text;
BEGIN
    IF NEW.type IN ('stay.ending_soon', 'stay.overdue') THEN
        v_kind := CASE NEW.type WHEN 'stay.overdue' THEN 'stay_overdue' ELSE 'stay_ending' END;
        PERFORM notification_add(youth_followers((d->>'youth_id')::bigint) || porteur_people(NEW.porteur_id),
                                 v_kind, NEW.type, NEW.dedup_key, NEW.id, d);
    ELSIF NEW.type = 'placement.status_changed' THEN
        IF d->>'status' = 'proposed' THEN
            -- notification_add(porteur_people(NEW.porteur_id), ...), in one statement
            INSERT INTO notifications (account_id, kind, event, dedup_key, outbox_id, youth_id, placement_id,
                                       offer_id, data, delivery)
            SELECT a.id, 'proposal_new', NEW.type, NEW.dedup_key, NEW.id, (d->>'youth_id')::bigint,
                   (d->>'placement_id')::bigint, (d->>'offer_id')::bigint, d, notification_mode(a.id, 'proposal_new')
            FROM accounts a
            WHERE a.role = 'porteur' AND a.porteur_id = NEW.porteur_id AND a.disabled_at IS NULL
            ON CONFLICT (account_id, dedup_key) DO NOTHING;
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
