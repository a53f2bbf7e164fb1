/*
 * mail: outgoing e-mail. Messages are queued in the mail_outbox table (in
 * the transaction of what caused them, by SQL mail_enqueue) with their
 * Message-ID fixed at that moment, then sent over SMTP by libcurl's multi
 * interface on the app's loop (curlloop.h), STARTTLS when the server offers
 * it, as a multipart/alternative text + HTML message. Delivery is at least
 * once: a crash between the send and its record repeats the same message
 * (same Message-ID). A permanent refusal (5xx) stops the retries and is
 * shown on the account; other failures are retried on mail_retry_schedule.
 *
 * Without smtp_url there is no outgoing mail: the builders return NULL and
 * links are only shown to the admin.
 */
#ifndef SIAOD_MAIL_H
#define SIAOD_MAIL_H

#include <stdbool.h>
#include <jansson.h>

struct app;
struct config;

bool mail_enabled(const struct config *cfg);
/* The mail as the jsonb mail_enqueue takes ({message_id, to, subject, text,
 * html}), malloc'd, or NULL when mail is off. to may be NULL (filled in SQL). */
char *mail_invitation(const struct config *cfg, const char *to, const char *display_name,
		      const char *url, int valid_hours);
char *mail_reset(const struct config *cfg, const char *url, int valid_minutes);
/* Notifications (notify.c), as mail_enqueue's jsonb object plus youth_ids
 * (the young people named) and list_unsubscribe; NULL when mail is off.
 * view: one notification as notification_views() says it (title, text,
 * link, kind, youth_id); items: the digest's, urgent ones first. */
json_t *mail_notification(const struct config *cfg, const char *to, const json_t *view, const char *unsub_url);
json_t *mail_digest(const struct config *cfg, const char *to, const json_t *items, const char *today,
		    const char *unsub_url);

int  mail_start(struct app *app);
/* Look for due mail now. */
void mail_kick(struct app *app);
void mail_stop(struct app *app);

#endif
