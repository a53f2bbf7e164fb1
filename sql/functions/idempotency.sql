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

-- Idempotency in the write's own statement (issue 13): for the routes that
-- take it (POST /v1/placements, see placement_propose), the claim, the write
-- and the stored answer are one round trip, one transaction. While the
-- request runs it holds a transaction-level advisory lock on its key instead
-- of a 'running' row: another request with the key finds the lock taken and
-- answers 409 idempotency-in-progress without waiting; once the first
-- commits, its 'done' row is there (visible before the lock is released).
-- A request that fails rolls everything back, lock included; its answer is
-- then kept by idem_answer.
-- 'new' (go ahead: the lock is held until commit), 'replay' with the stored
-- answer, 'running' or 'mismatch', as idem_begin answers.
CREATE FUNCTION idem_fold_begin(p_token bigint, p_key text, p_hash bytea,
                                OUT state text, OUT status integer, OUT response text)
LANGUAGE plpgsql AS $$
DECLARE r idempotency;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtextextended('idem:' || p_key, p_token)) THEN
        state := 'running';
        RETURN;
    END IF;
    -- a statement after the lock: its snapshot sees what the holder committed
    SELECT * INTO r FROM idempotency i WHERE i.token_id = p_token AND i.key = p_key;
    IF NOT FOUND OR r.created_at < now() - interval '24 hours' THEN
        state := 'new';
    ELSIF r.body_hash <> p_hash THEN
        state := 'mismatch';
    ELSIF r.state = 'done' THEN
        state := 'replay';
        status := r.status;
        response := r.response;
    ELSIF r.created_at < now() - interval '1 minute' THEN
        state := 'new';        -- a claim whose request died before its write committed
    ELSE
        state := 'running';
    END IF;
END $$;

-- The answer of a write that idem_fold_begin let go, in the same transaction.
CREATE FUNCTION idem_fold_end(p_token bigint, p_key text, p_hash bytea, p_status integer, p_response text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO idempotency AS i (token_id, key, body_hash, state, status, response)
    VALUES (p_token, p_key, p_hash, 'done', p_status, p_response)
    ON CONFLICT (token_id, key) DO UPDATE
        SET body_hash = EXCLUDED.body_hash, state = 'done', status = EXCLUDED.status,
            response = EXCLUDED.response, created_at = now();
END $$;

-- Keeps the answer of a request of such a route that did not commit a write
-- (a 4xx of the daemon's checks or of the function): 'stored', or, when the
-- key already has an answer, 'replay' with it ('mismatch': the key was used
-- for another request), or 'running' while a request with the key runs.
-- Nothing is stored but in the 'stored' case.
CREATE FUNCTION idem_answer(p_token bigint, p_key text, p_hash bytea, p_status integer, p_response text,
                            OUT state text, OUT status integer, OUT response text)
LANGUAGE plpgsql AS $$
DECLARE b record;
BEGIN
    SELECT * INTO b FROM idem_fold_begin(p_token, p_key, p_hash);
    IF b.state <> 'new' THEN
        state := b.state;
        status := b.status;
        response := b.response;
        RETURN;
    END IF;
    PERFORM idem_fold_end(p_token, p_key, p_hash, p_status, p_response);
    state := 'stored';
END $$;

-- A stored answer with the personal members of one young person blanked as
-- youth_erase blanks them: every object (at any depth) whose "ref" is the
-- erased reference gets ref, birth_date, institution_exit_date and
-- commune_insee null, needs [], has_pets false and monthly_income_eur 0 —
-- for the members it has; nothing is added. Later answers that carry a
-- young person's ref (allocation plans, imports, notifications) are covered
-- as long as they name it "ref".
CREATE FUNCTION jsonb_forget_youth(doc jsonb, p_ref text) RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    res jsonb;
    blank CONSTANT jsonb := '{"ref": null, "birth_date": null, "institution_exit_date": null,
                              "commune_insee": null, "needs": [], "has_pets": false,
                              "monthly_income_eur": 0}';
BEGIN
    IF jsonb_typeof(doc) = 'object' THEN
        SELECT coalesce(jsonb_object_agg(e.key,
                   CASE WHEN doc->>'ref' = p_ref AND blank ? e.key THEN blank->e.key
                        ELSE jsonb_forget_youth(e.value, p_ref) END), '{}')
        INTO res FROM jsonb_each(doc) e;
        RETURN res;
    ELSIF jsonb_typeof(doc) = 'array' THEN
        SELECT coalesce(jsonb_agg(jsonb_forget_youth(e.value, p_ref) ORDER BY e.n), '[]')
        INTO res FROM jsonb_array_elements(doc) WITH ORDINALITY AS e(value, n);
        RETURN res;
    END IF;
    RETURN doc;
END $$;

-- Blanks the young person of reference p_ref in every stored answer. The
-- record itself stays (same key, same body hash, same status): a retry of
-- the creation is still recognised as the request already done, so it has
-- no second effect (it would otherwise create the erased person again from
-- the retried body), and answers the record as erased.
CREATE FUNCTION idem_forget_youth(p_ref text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    r record;
    doc jsonb;
BEGIN
    IF p_ref IS NULL THEN
        RETURN;
    END IF;
    FOR r IN SELECT token_id, key, response FROM idempotency
             WHERE state = 'done' AND response LIKE '%"ref"%' FOR UPDATE LOOP
        BEGIN
            doc := r.response::jsonb;
        EXCEPTION WHEN invalid_text_representation THEN
            CONTINUE;   -- not JSON: nothing of a "ref" member to blank
        END;
        IF jsonb_forget_youth(doc, p_ref) IS DISTINCT FROM doc THEN
            UPDATE idempotency SET response = jsonb_forget_youth(doc, p_ref)::text
            WHERE token_id = r.token_id AND key = r.key;
        END IF;
    END LOOP;
END $$;
