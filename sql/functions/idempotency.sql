-- idempotency.sql (schema api, see sql/README.md): Idempotency-Key: a POST replayed with the same
-- key answers what the first one did.

-- Claims a key. Answers 'new' (go ahead), 'replay' with the stored answer,
-- 'running' (the first request is still at work) or 'mismatch' (the key was
-- used with another request). A 'running' claim older than a minute belongs
-- to a request that died before its write committed: it is taken over.
CREATE FUNCTION idem_begin(p_token bigint, p_key text, p_hash bytea)
RETURNS TABLE (state text, status integer, response text) LANGUAGE plpgsql AS $$
DECLARE r idempotency;
BEGIN
    DELETE FROM idempotency WHERE created_at < now() - interval '24 hours';
    INSERT INTO idempotency (token_id, key, body_hash, state)
    VALUES (p_token, p_key, p_hash, 'running')
    ON CONFLICT (token_id, key) DO NOTHING;
    IF FOUND THEN
        RETURN QUERY SELECT 'new'::text, NULL::integer, NULL::text;
        RETURN;
    END IF;
    SELECT * INTO r FROM idempotency i WHERE i.token_id = p_token AND i.key = p_key FOR UPDATE;
    IF r.body_hash <> p_hash THEN
        RETURN QUERY SELECT 'mismatch'::text, NULL::integer, NULL::text;
    ELSIF r.state = 'done' THEN
        RETURN QUERY SELECT 'replay'::text, r.status, r.response;
    ELSIF r.created_at < now() - interval '1 minute' THEN
        UPDATE idempotency i SET created_at = now() WHERE i.token_id = p_token AND i.key = p_key;
        RETURN QUERY SELECT 'new'::text, NULL::integer, NULL::text;
    ELSE
        RETURN QUERY SELECT 'running'::text, NULL::integer, NULL::text;
    END IF;
END $$;

-- Stores the answer; called inside the write's own statement (so in its
-- transaction) for SQL writes, or after the answer for the others.
CREATE FUNCTION idem_store(p_token bigint, p_key text, p_status integer, p_response jsonb)
RETURNS jsonb LANGUAGE sql AS $$
    UPDATE idempotency SET state = 'done', status = p_status, response = p_response::text
    WHERE token_id = p_token AND key = p_key AND state = 'running';
    SELECT p_response;
$$;

CREATE FUNCTION idem_store_text(p_token bigint, p_key text, p_status integer, p_response text)
RETURNS void LANGUAGE sql AS $$
    UPDATE idempotency SET state = 'done', status = p_status, response = p_response
    WHERE token_id = p_token AND key = p_key AND state = 'running';
$$;

-- The request failed without effect (a 5xx): a retry should run it again.
CREATE FUNCTION idem_abandon(p_token bigint, p_key text) RETURNS void LANGUAGE sql AS $$
    DELETE FROM idempotency WHERE token_id = p_token AND key = p_key AND state = 'running';
$$;
