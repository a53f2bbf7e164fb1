-- 026 mail bodies in lz4: a queued mail's text and HTML (a digest's are 8 kB
-- together) are compressed into TOAST as they are written, and read back
-- once to be sent. PostgreSQL's own compression (pglz) took a visible share
-- of queueing a batch of digests; lz4 is several times faster at both ends,
-- for a little less compression (the bodies are emptied once sent anyway,
-- mail_record). Rows already queued keep their compression.
ALTER TABLE mail_outbox
    ALTER COLUMN body_text SET COMPRESSION lz4,
    ALTER COLUMN body_html SET COMPRESSION lz4;
