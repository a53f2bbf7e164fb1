-- mail.sql (schema api, see sql/README.md): the outgoing mail outbox (daemon/mail.c):
-- queued with a fixed Message-ID, leased, recorded. Table: 017.

-- Queues one mail (see mail.c); mail: {message_id, to, subject, text, html,
-- youth_ids?, list_unsubscribe?} (notifications: the young people it names,
-- whose erasure removes it while unsent; its one-click unsubscribe URL).
CREATE FUNCTION mail_enqueue(mail jsonb, p_account bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM mail_enqueue_all(jsonb_build_array(jsonb_build_object('account_id', p_account, 'mail', mail)));
END $$;

-- Queues many in one statement and one NOTIFY: mails [{account_id, mail}]
-- (mail as mail_enqueue takes it; a null mail is skipped). Returns how
-- many were queued.
CREATE FUNCTION mail_enqueue_all(mails jsonb) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE n integer;
BEGIN
    INSERT INTO mail_outbox (message_id, account_id, to_addr, subject, body_text, body_html, youth_ids,
                             list_unsubscribe)
    SELECT m->>'message_id', (x->>'account_id')::bigint, m->>'to', m->>'subject', m->>'text', m->>'html',
           coalesce(ARRAY(SELECT jsonb_array_elements_text(m->'youth_ids')::bigint), '{}'),
           m->>'list_unsubscribe'
    FROM jsonb_array_elements(coalesce(mails, '[]')) x, LATERAL (SELECT x->'mail' AS m) y
    WHERE jsonb_typeof(m) = 'object';
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n > 0 THEN
        PERFORM pg_notify('siaod_mail', '');
    END IF;
    RETURN n;
END $$;

-- Due mails, leased to this instance (a crash lets them come back, with
-- the same Message-ID); attempts counts this one. The daemon sends them
-- per_round at a time, each taking at most timeout_seconds, after `ahead`
-- mails it already holds: the k-th mail claimed (1-based, the rows come in
-- that order) is leased for timeout_seconds × (1 + (ahead + k − 1) / per_round)
-- + 5 s, so no lease lapses while its mail waits its turn, and the first
-- ones come back soon after a crash.
CREATE FUNCTION mail_claim(lim integer, timeout_seconds integer, ahead integer, per_round integer)
RETURNS TABLE (id bigint, message_id text, to_addr text, subject text, body_text text, body_html text,
               attempts integer, list_unsubscribe text)
LANGUAGE sql AS $$
    WITH due AS (
        SELECT m.id, m.next_at FROM mail_outbox m
        WHERE m.sent_at IS NULL AND m.failed_at IS NULL AND m.next_at <= now()
          AND (m.lease_until IS NULL OR m.lease_until < now())
        ORDER BY m.next_at, m.id LIMIT lim
        FOR UPDATE SKIP LOCKED
    ), ranked AS (
        SELECT due.id, row_number() OVER (ORDER BY due.next_at, due.id) AS k FROM due
    ), leased AS (
        UPDATE mail_outbox m SET attempts = m.attempts + 1,
            lease_until = now() + make_interval(
                secs => timeout_seconds * (1 + (ahead + r.k - 1) / greatest(per_round, 1)) + 5)
        FROM ranked r WHERE m.id = r.id
        RETURNING r.k, m.id, m.message_id, m.to_addr, m.subject, m.body_text, m.body_html, m.attempts,
                  m.list_unsubscribe
    )
    SELECT l.id, l.message_id, l.to_addr, l.subject, l.body_text, l.body_html, l.attempts, l.list_unsubscribe
    FROM leased l ORDER BY l.k;
$$;

-- outcomes: [{id, outcome, retry_seconds, error}], recorded in one
-- statement each way. outcome: sent, retry (after retry_seconds), failed
-- (permanent: 5xx, or the schedule is over; shown on the account).
CREATE FUNCTION mail_record(outcomes jsonb) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE n integer;
BEGIN
    WITH o AS (
        SELECT (x->>'id')::bigint AS id, x->>'outcome' AS outcome,
               coalesce((x->>'retry_seconds')::integer, 0) AS retry_seconds, left(x->>'error', 500) AS error
        FROM jsonb_array_elements(outcomes) x
    ), done AS (
        UPDATE mail_outbox m SET
            -- the links are only for the recipient: once sent or failed, the bodies go
            sent_at = CASE WHEN o.outcome = 'sent' THEN now() END,
            failed_at = CASE WHEN o.outcome NOT IN ('sent', 'retry') THEN now() END,
            next_at = CASE WHEN o.outcome = 'retry' THEN now() + make_interval(secs => o.retry_seconds)
                           ELSE m.next_at END,
            lease_until = NULL,
            last_error = CASE WHEN o.outcome = 'sent' THEN NULL ELSE o.error END,
            body_text = CASE WHEN o.outcome = 'retry' THEN m.body_text ELSE '' END,
            body_html = CASE WHEN o.outcome = 'retry' THEN m.body_html ELSE '' END
        FROM o WHERE m.id = o.id AND m.sent_at IS NULL AND m.failed_at IS NULL
        RETURNING m.account_id, o.outcome, o.error
    ), shown AS (
        UPDATE accounts a SET mail_error = f.error, mail_error_at = now()
        FROM (SELECT DISTINCT ON (account_id) account_id, error FROM done
              WHERE outcome NOT IN ('sent', 'retry') AND account_id IS NOT NULL) f
        WHERE a.id = f.account_id
    )
    SELECT count(*) INTO n FROM done;
    RETURN n;
END $$;
