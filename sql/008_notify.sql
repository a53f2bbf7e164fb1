-- 008: tell every siaod instance sharing this database what changed, so
-- their in-memory inventories follow writes made by the others
-- (LISTEN siaod_inventory; payloads "o:<offer id>" and "y:<young person id>").
-- Notifications are sent at commit, and identical ones of one transaction
-- only once.

CREATE FUNCTION notify_inventory() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE r record := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
BEGIN
    IF TG_TABLE_NAME = 'offers' THEN
        PERFORM pg_notify('siaod_inventory', 'o:' || r.id);
    ELSIF TG_TABLE_NAME = 'places' THEN
        PERFORM pg_notify('siaod_inventory', 'o:' || r.offer_id);
    ELSIF TG_TABLE_NAME = 'placements' THEN
        PERFORM pg_notify('siaod_inventory', 'o:' || r.offer_id);
        PERFORM pg_notify('siaod_inventory', 'y:' || r.youth_id);
    ELSIF TG_TABLE_NAME = 'youth' THEN
        PERFORM pg_notify('siaod_inventory', 'y:' || r.id);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER offers_notify AFTER INSERT OR UPDATE ON offers
    FOR EACH ROW EXECUTE FUNCTION notify_inventory();
CREATE TRIGGER places_notify AFTER INSERT OR UPDATE ON places
    FOR EACH ROW EXECUTE FUNCTION notify_inventory();
CREATE TRIGGER placements_notify AFTER INSERT OR UPDATE ON placements
    FOR EACH ROW EXECUTE FUNCTION notify_inventory();
CREATE TRIGGER youth_notify AFTER INSERT OR UPDATE ON youth
    FOR EACH ROW EXECUTE FUNCTION notify_inventory();
