-- mail.sql (schema api, see sql/README.md): the outgoing mail outbox (daemon/mail.c):
-- queued with a fixed Message-ID, leased, recorded. Table: 017.

-- Queues one mail (see mail.c); mail: {message_id, to, subject, text, html,
-- youth_ids?, list_unsubscribe?} (notifications: the young people it names,
-- whose erasure removes it while unsent; its one-click unsubscribe URL).
CREATE FUNCTION mail_enqueue(mail jsonb, p_account bigint) RETURNS void LANGUAGE sql AS $$
    INSERT INTO mail_outbox (message_id, account_id, to_addr, subject, body_text, body_html, youth_ids,
                             list_unsubscribe)
    SELECT mail->>'message_id', p_account, mail->>'to', mail->>'subject', mail->>'text', mail->>'html',
           coalesce(ARRAY(SELECT jsonb_array_elements_text(mail->'youth_ids')::bigint), '{}'),
           mail->>'list_unsubscribe'
    WHERE mail IS NOT NULL;
    SELECT pg_notify('siaod_mail', '') WHERE mail IS NOT NULL;
$$;

-- Due mails, leased to this instance for lease_seconds (a crash lets them
-- come back, with the same Message-ID); attempts counts this one.
CREATE FUNCTION mail_claim(lim integer, lease_seconds integer) RETURNS TABLE (
    id bigint, message_id text, to_addr text, subject text, body_text text, body_html text,
    attempts integer, list_unsubscribe text)
LANGUAGE sql AS $$
    WITH due AS (
        SELECT m.id FROM mail_outbox m
        WHERE m.sent_at IS NULL AND m.failed_at IS NULL AND m.next_at <= now()
          AND (m.lease_until IS NULL OR m.lease_until < now())
        ORDER BY m.next_at, m.id LIMIT lim
        FOR UPDATE SKIP LOCKED
    )
    UPDATE mail_outbox m SET lease_until = now() + make_interval(secs => lease_seconds),
        attempts = m.attempts + 1
    FROM due WHERE m.id = due.id
    RETURNING m.id, m.message_id, m.to_addr, m.subject, m.body_text, m.body_html, m.attempts,
              m.list_unsubscribe;
$$;

-- outcome: sent, retry (after retry_seconds), failed (permanent: 5xx, or
-- the schedule is over; shown on the account).
CREATE FUNCTION mail_record(p_id bigint, outcome text, retry_seconds integer, error text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE m mail_outbox;
BEGIN
    IF outcome = 'sent' THEN
        -- the links are only for the recipient: once sent, the bodies go
        UPDATE mail_outbox SET sent_at = now(), lease_until = NULL, last_error = NULL,
            body_text = '', body_html = '' WHERE id = p_id;
    ELSIF outcome = 'retry' THEN
        UPDATE mail_outbox SET next_at = now() + make_interval(secs => retry_seconds), lease_until = NULL,
            last_error = left(error, 500) WHERE id = p_id;
    ELSE
        UPDATE mail_outbox SET failed_at = now(), lease_until = NULL, last_error = left(error, 500),
            body_text = '', body_html = '' WHERE id = p_id RETURNING * INTO m;
        UPDATE accounts SET mail_error = left(error, 500), mail_error_at = now() WHERE id = m.account_id;
    END IF;
END $$;
