-- 025 placement events: the trigger that turns a placement's change into an
-- outbox event reads the offer and the young person once, in its own
-- statements, instead of through two helper functions and a third query
-- (issue 13: the event was a fifth of a proposal's PostgreSQL time). The
-- same event, key for key (placement_event_data, placement_event_departements,
-- as 022 defines them, stay for the other callers).
CREATE OR REPLACE FUNCTION placements_emit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_porteur bigint;
    v_odep text;
    v_deps text[];
    v_data jsonb;
BEGIN
    SELECT porteur_id, departement INTO v_porteur, v_odep FROM offers WHERE id = NEW.offer_id;
    v_deps := ARRAY[v_odep, (SELECT departement FROM youth WHERE id = NEW.youth_id)];
    -- placement_event_data(NEW), from the row at hand
    v_data := jsonb_build_object('placement_id', NEW.id, 'offer_id', NEW.offer_id,
        'porteur_id', v_porteur, 'youth_id', NEW.youth_id, 'place_id', NEW.place_id,
        'status', NEW.status, 'start_date', NEW.start_date, 'planned_end_date', NEW.planned_end_date);
    IF TG_OP = 'INSERT' OR NEW.status <> OLD.status THEN
        PERFORM outbox_emit('placement.status_changed',
            format('placement.status_changed:%s:%s:%s', NEW.id, NEW.status, NEW.version),
            v_data || jsonb_build_object('previous_status',
                CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END,
                'refusal_reason', NEW.refusal_reason, 'exit_destination', NEW.exit_destination),
            v_deps, v_porteur);
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
