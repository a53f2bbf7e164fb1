-- errors.sql (schema api, see sql/README.md): How a function refuses: siaod_fail() raises SQLSTATE
-- 'SI' || http status with MESSAGE = problem slug, DETAIL = human text and HINT = extra problem
-- members as json; the daemon turns it into an application/problem+json answer.

CREATE FUNCTION siaod_fail(status integer, slug text, detail text, extra jsonb DEFAULT NULL)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'SI' || status::text, MESSAGE = slug,
        DETAIL = detail, HINT = coalesce(extra::text, '');
END $$;

CREATE FUNCTION siaod_field_error(status integer, pointer text, code text, detail text)
RETURNS void LANGUAGE sql AS $$
    SELECT siaod_fail(status, 'invalid-field', detail,
        jsonb_build_object('errors', jsonb_build_array(
            jsonb_build_object('pointer', pointer, 'code', code, 'detail', detail))));
$$;

-- The version a patch function is to check, from the versions an If-Match
-- list names (the daemon reads the tags; weak ones never match): the
-- current one when listed, else the first, which then fails the patch
-- function's own check under its row lock (412). NULL: no condition. The
-- current version read here without a lock may move before the patch locks
-- the row: the patch then sees a version that is no longer current and
-- answers 412, as it must.
CREATE FUNCTION if_match_version(candidates integer[], current integer) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN candidates IS NULL THEN NULL
                WHEN current = ANY (candidates) THEN current
                ELSE candidates[1] END;
$$;
