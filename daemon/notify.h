/*
 * notify: people's notifications by e-mail. The notifications themselves are
 * written by the database, in the transaction of the change (a trigger on
 * the webhooks' outbox, sql/020_notifications.sql) or by the scheduler's
 * proposal reminders; this module turns them into mails queued through the
 * outgoing mail's outbox (mail.h): each "immediately" notification its own
 * mail, the "digest" ones one mail per person per day at digest_hour (the
 * database's key makes it one even with several instances). Every mail
 * carries a signed one-click unsubscribe link (RFC 8058) for its kind.
 *
 * Flow, on a one-second tick: notification_claim() leases due immediate
 * notifications ─▶ one mail each (mail_templates.c) ─▶ notification_mailed()
 * queues each mail once, in one transaction; and from digest_hour on,
 * notification_digest_due() ─▶ one digest per person ─▶ notification_digested().
 * Each is one round trip for a whole batch (its items rendered by one
 * set-based query, notification_views; its mails queued by one statement),
 * and a day's digests are built batch after batch in account order (a
 * cursor per lane: two lanes, accounts by id modulo 2, side by side), so no
 * batch reads again the people already done.
 */
#ifndef SIAOD_NOTIFY_H
#define SIAOD_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct app;

int  notify_start(struct app *app);
void notify_stop(struct app *app);
/* Runs the proposal reminders now (the scheduler's alert tick). */
void notify_scan_reminders(struct app *app);

/* The unsubscribe link's token for (account, kind): "<account>.<kind>.<mac>",
 * mac the base64url HMAC-SHA256 of both under the unsubscribe key. False
 * while the key is not known yet (read from the database at start). */
bool notify_token(struct app *app, int64_t account, const char *kind, char *out, size_t size);
/* Checks a token; on success fills account and kind. */
bool notify_token_check(struct app *app, const char *token, int64_t *account, char *kind, size_t size);

#endif
