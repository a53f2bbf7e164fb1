/*
 * Outgoing mail: the outbox sender (see mail.h).
 *
 * Flow: a poll tick (or a NOTIFY siaod_mail) ─▶ mail_claim() leases up to
 * MAIL_CLAIM_BATCH due mails into a local queue ─▶ at most
 * MAIL_MAX_INFLIGHT SMTP transfers at a time on the shared curl loop
 * (curlloop.h), headers and a multipart/alternative body built with curl's
 * MIME API, on connections kept open ─▶ mail_record(), a batch of outcomes
 * per round trip (one in flight, up to MAIL_RECORD_BATCH): sent, retry
 * (temporary failure: 4xx or network, on mail_retry_schedule) or failed
 * (5xx: permanent, shown on the account). A round trip per mail, claim and
 * record, each a commit, cost more than the mail itself.
 *
 * The Message-ID comes from the outbox row, fixed when the mail was queued.
 * A claim's lease covers the mails queued ahead of it at one timeout per
 * MAIL_MAX_INFLIGHT of them: it never lapses while a mail waits here, so
 * only a crash (or a failed record) lets another claim send it again, with
 * the same Message-ID.
 */
#include "mail.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>
#include <event2/event.h>
#include <openssl/evp.h>

#include "app.h"
#include "curlloop.h"
#include "log.h"
#include "store.h"

#define MAIL_POLL_MS 1000
#define MAIL_MAX_INFLIGHT 8
#define MAIL_CLAIM_BATCH 32     /* claimed at once into the local queue */
/* outcomes recorded together: MAIL_RECORD_BATCH of them, or what waits
 * MAIL_RECORD_DELAY_MS after the first, or at once when nothing else is
 * being sent */
#define MAIL_RECORD_BATCH 32
#define MAIL_RECORD_DELAY_MS 50

/* One claimed mail waiting for a transfer slot: mail_claim's row, copied. */
struct queued {
	struct queued *next;
	int64_t id;
	int attempts;
	char *message_id, *to, *subject, *text, *html, *unsub;   /* unsub may be NULL */
};

struct mailer {
	struct app *app;
	struct curlloop *curl;
	struct event *poll, *kick;
	struct sending *list;
	struct queued *head, *tail;     /* claimed, not started yet */
	int running, queued;
	json_t *outcomes;               /* waiting to be recorded */
	bool claiming, recording, stopped, record_due;
	struct event *record_timer;
};

struct sending {
	struct mailer *m;
	struct sending *prev, *next;
	CURL *easy;
	curl_mime *mime;
	struct curl_slist *rcpt, *headers;
	int64_t id;
	int attempts;
	char errbuf[CURL_ERROR_SIZE];
};

static void poll_now(struct mailer *m);

static void sending_free(struct sending *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else if (s->m->list == s)
		s->m->list = s->next;
	if (s->next)
		s->next->prev = s->prev;
	if (s->easy) {
		curlloop_remove(s->m->curl, s->easy);
		curl_easy_cleanup(s->easy);
	}
	curl_mime_free(s->mime);
	curl_slist_free_all(s->rcpt);
	curl_slist_free_all(s->headers);
	free(s);
}

static void record_flush(struct mailer *m);
static void start_queued(struct mailer *m);

static void queued_free(struct queued *q)
{
	if (!q)
		return;
	free(q->message_id);
	free(q->to);
	free(q->subject);
	free(q->text);
	free(q->html);
	free(q->unsub);
	free(q);
}

static void recorded(void *arg, PGresult *res)
{
	struct mailer *m = arg;
	m->recording = false;
	/* not recorded: the mails stay leased and are sent again when the
	 * lease ends, with the same Message-ID (at least once, never lost) */
	if (store_result_failed(res))
		log_warn("mail", "event=outcome_not_recorded");
	record_flush(m);
}

/* One round trip for the outcomes waiting, one round trip at a time (what
 * finishes meanwhile waits for the next), MAIL_RECORD_BATCH at once: a
 * record per transfer was a commit per mail. A crash loses at most
 * MAIL_RECORD_DELAY_MS of outcomes: those mails are sent again after their
 * lease, with the same Message-ID. */
static void record_flush(struct mailer *m)
{
	if (m->recording || m->stopped || json_array_size(m->outcomes) == 0)
		return;
	if (json_array_size(m->outcomes) < MAIL_RECORD_BATCH && m->running + m->queued > 0 && !m->record_due) {
		if (!evtimer_pending(m->record_timer, NULL)) {
			struct timeval tv = {0, MAIL_RECORD_DELAY_MS * 1000L};
			evtimer_add(m->record_timer, &tv);
		}
		return;
	}
	m->record_due = false;
	char *text = json_dumps(m->outcomes, JSON_COMPACT);
	if (!text)
		return;   /* kept for the next flush */
	json_array_clear(m->outcomes);
	m->recording = true;
	const char *values[1] = {text};
	store_query(m->app->store, "SELECT mail_record($1::jsonb)", 1, values, recorded, m);
	free(text);
}

static void outcome_add(struct mailer *m, int64_t id, const char *outcome, int retry_seconds, const char *error)
{
	json_t *o = json_pack("{s:I, s:s, s:i}", "id", (json_int_t)id, "outcome", outcome, "retry_seconds",
			      retry_seconds);
	if (o && error && *error)
		json_object_set_new(o, "error", json_string(error));
	if (o && m->outcomes)
		json_array_append_new(m->outcomes, o);
	else
		json_decref(o);
	record_flush(m);
}

static void sent_done(void *owner, CURL *easy, CURLcode rc)
{
	struct mailer *m = owner;
	struct sending *s = NULL;
	curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&s);
	long code = 0;
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
	const struct config *cfg = &m->app->cfg;
	const char *outcome = "sent";
	int delay = 0;
	char error[CURL_ERROR_SIZE + 48] = "";
	if (rc != CURLE_OK) {
		snprintf(error, sizeof error, "%ld %s", code, s->errbuf[0] ? s->errbuf : curl_easy_strerror(rc));
		bool permanent = code >= 500 && code < 600;   /* 5xx: retrying changes nothing */
		if (permanent || s->attempts > cfg->n_mail_retries) {
			outcome = "failed";
		} else {
			outcome = "retry";
			delay = cfg->mail_retry_seconds[s->attempts - 1];
		}
	}
	log_info("mail_attempt", "mail=%lld attempt=%d smtp_status=%ld outcome=%s", (long long)s->id,
		 s->attempts, code, outcome);
	outcome_add(m, s->id, outcome, delay, error);
	sending_free(s);
	m->running--;
}

static void sent_batch(void *owner)
{
	struct mailer *m = owner;
	start_queued(m);
	poll_now(m);
}

/* "Name <addr@x>" or "addr@x" → "<addr@x>" for MAIL FROM / RCPT TO. */
static void angle_addr(const char *from, char *out, size_t size)
{
	const char *lt = strchr(from, '<');
	if (lt) {
		snprintf(out, size, "%s", lt);
		char *gt = strchr(out, '>');
		if (gt)
			gt[1] = '\0';
	} else {
		snprintf(out, size, "<%s>", from);
	}
}

/* A header value in UTF-8 as an RFC 2047 encoded word when not plain ASCII. */
static void encoded_word(const char *s, char *out, size_t size)
{
	bool ascii = true;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p >= 0x80 || *p == '\r' || *p == '\n')
			ascii = false;
	if (ascii) {
		snprintf(out, size, "%s", s);
		return;
	}
	size_t n = strlen(s);
	if (n > 150)
		n = 150; /* subjects are ours and short */
	unsigned char b64[4 * 51 + 4];
	EVP_EncodeBlock(b64, (const unsigned char *)s, (int)n);
	snprintf(out, size, "=?UTF-8?B?%s?=", b64);
}

static int add_part(curl_mime *mime, const char *data, const char *type)
{
	curl_mimepart *p = curl_mime_addpart(mime);
	return p && curl_mime_data(p, data, CURL_ZERO_TERMINATED) == CURLE_OK &&
	       curl_mime_type(p, type) == CURLE_OK && curl_mime_encoder(p, "quoted-printable") == CURLE_OK
	       ? 0 : -1;
}

/* Starts q's transfer (q stays the caller's). Without memory, q waits for
 * its lease to end. */
static void start_one(struct mailer *m, const struct queued *q)
{
	const struct config *cfg = &m->app->cfg;
	struct sending *s = calloc(1, sizeof *s);
	if (!s)
		return;
	s->m = m;
	s->id = q->id;
	s->attempts = q->attempts;
	s->next = m->list;
	if (s->next)
		s->next->prev = s;
	m->list = s;
	const char *mid = q->message_id, *to = q->to, *subject = q->subject, *text = q->text, *html = q->html;
	char from[300], rcpt[300], h[700], date[64], subj[300];
	angle_addr(cfg->smtp_from, from, sizeof from);
	angle_addr(to, rcpt, sizeof rcpt);
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
	encoded_word(subject, subj, sizeof subj);
	s->easy = curl_easy_init();
	s->mime = s->easy ? curl_mime_init(s->easy) : NULL;
	s->rcpt = curl_slist_append(NULL, rcpt);
	bool ok = s->easy && s->mime && s->rcpt;
	/* the body: multipart/alternative of text and HTML, as the one part
	 * of the top-level MIME structure */
	curl_mime *alt = ok ? curl_mime_init(s->easy) : NULL;
	ok = ok && alt && add_part(alt, text, "text/plain; charset=utf-8") == 0 &&
	     add_part(alt, html, "text/html; charset=utf-8") == 0;
	curl_mimepart *top = ok ? curl_mime_addpart(s->mime) : NULL;
	if (ok && top && curl_mime_subparts(top, alt) == CURLE_OK) {
		alt = NULL; /* owned by top now */
		curl_mime_type(top, "multipart/alternative");
		/* curl would wrap our part in multipart/mixed; the mail is just it */
	} else {
		ok = false;
	}
	curl_mime_free(alt);
	/* notifications: a one-click unsubscribe (RFC 8058) for that kind */
	const char *unsub = q->unsub;
	char unsub_h[600] = "";
	if (unsub && *unsub)
		snprintf(unsub_h, sizeof unsub_h, "<%s>", unsub);
	const char *names[] = {"Date", "From", "To", "Subject", "Message-ID", "Auto-Submitted",
			       "List-Unsubscribe", "List-Unsubscribe-Post"};
	const char *vals[] = {date, cfg->smtp_from, to, subj, mid, "auto-generated", unsub_h,
			      "List-Unsubscribe=One-Click"};
	size_t nheaders = sizeof names / sizeof *names - (unsub_h[0] ? 0 : 2);
	for (size_t i = 0; ok && i < nheaders; i++) {
		snprintf(h, sizeof h, "%s: %s", names[i], vals[i]);
		struct curl_slist *n = curl_slist_append(s->headers, h);
		if (!n)
			ok = false;
		else
			s->headers = n;
	}
	if (ok) {
		CURL *c = s->easy;
		curl_easy_setopt(c, CURLOPT_URL, cfg->smtp_url);
		curl_easy_setopt(c, CURLOPT_MAIL_FROM, from);
		curl_easy_setopt(c, CURLOPT_MAIL_RCPT, s->rcpt);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, s->headers);
		curl_easy_setopt(c, CURLOPT_MIMEPOST, s->mime);
		/* STARTTLS whenever the server offers it; smtps:// is TLS from the start */
		curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_TRY);
		if (cfg->smtp_user[0]) {
			curl_easy_setopt(c, CURLOPT_USERNAME, cfg->smtp_user);
			curl_easy_setopt(c, CURLOPT_PASSWORD, cfg->smtp_password);
		}
		curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)cfg->mail_timeout_seconds);
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_ERRORBUFFER, s->errbuf);
		curl_easy_setopt(c, CURLOPT_PRIVATE, s);
		ok = curlloop_add(m->curl, c) == 0;
	}
	if (!ok) {
		outcome_add(m, s->id, "retry", 60, "could not prepare the message");
		if (s->easy) {
			curl_easy_cleanup(s->easy);
			s->easy = NULL;
		}
		sending_free(s);
		return;
	}
	m->running++;
}

/* Starts what the queue holds, while there is room. */
static void start_queued(struct mailer *m)
{
	while (m->head && m->running < MAIL_MAX_INFLIGHT && !m->stopped) {
		struct queued *q = m->head;
		m->head = q->next;
		if (!m->head)
			m->tail = NULL;
		m->queued--;
		start_one(m, q);
		queued_free(q);
	}
}

static char *dup_value(const PGresult *res, int row, int col)
{
	return col < 0 || PQgetisnull(res, row, col) ? NULL : strdup(PQgetvalue(res, row, col));
}

static void claimed(void *arg, PGresult *res)
{
	struct mailer *m = arg;
	m->claiming = false;
	if (store_result_failed(res) || m->stopped)
		return;
	/* mail_claim's columns, by name (sql/functions/mail.sql) */
	int f_id = PQfnumber(res, "id"), f_mid = PQfnumber(res, "message_id"), f_to = PQfnumber(res, "to_addr"),
	    f_subject = PQfnumber(res, "subject"), f_text = PQfnumber(res, "body_text"),
	    f_html = PQfnumber(res, "body_html"), f_attempts = PQfnumber(res, "attempts"),
	    f_unsub = PQfnumber(res, "list_unsubscribe");
	int n = PQntuples(res);
	if (n > 0 && (f_id < 0 || f_mid < 0 || f_to < 0 || f_subject < 0 || f_text < 0 || f_html < 0 ||
		      f_attempts < 0)) {
		log_error("mail", "error=\"mail_claim lacks a column\"");
		return;
	}
	for (int i = 0; i < n; i++) {
		struct queued *q = calloc(1, sizeof *q);
		if (q) {
			q->id = strtoll(PQgetvalue(res, i, f_id), NULL, 10);
			q->attempts = (int)strtol(PQgetvalue(res, i, f_attempts), NULL, 10);
			q->message_id = dup_value(res, i, f_mid);
			q->to = dup_value(res, i, f_to);
			q->subject = dup_value(res, i, f_subject);
			q->text = dup_value(res, i, f_text);
			q->html = dup_value(res, i, f_html);
			q->unsub = dup_value(res, i, f_unsub);
		}
		/* without memory, the mail waits for its lease to end */
		if (!q || !q->message_id || !q->to || !q->subject || !q->text || !q->html) {
			queued_free(q);
			continue;
		}
		if (m->tail)
			m->tail->next = q;
		else
			m->head = q;
		m->tail = q;
		m->queued++;
	}
	start_queued(m);
	/* a full batch: more may be due */
	if (n >= MAIL_CLAIM_BATCH)
		poll_now(m);
}

/* Claims more while the queue runs low (before it is empty, so the
 * transfers never wait for a claim's round trip). */
static void claim(struct mailer *m)
{
	if (m->claiming || m->stopped || !mail_enabled(&m->app->cfg) || m->queued >= MAIL_MAX_INFLIGHT)
		return;
	/* each lease covers the mails ahead of it (in flight, queued, claimed
	 * before it in this batch): see mail_claim */
	char lim[16], timeout[16], ahead[16], per[16];
	snprintf(lim, sizeof lim, "%d", MAIL_CLAIM_BATCH);
	snprintf(timeout, sizeof timeout, "%d", m->app->cfg.mail_timeout_seconds);
	snprintf(ahead, sizeof ahead, "%d", m->running + m->queued);
	snprintf(per, sizeof per, "%d", MAIL_MAX_INFLIGHT);
	const char *values[4] = {lim, timeout, ahead, per};
	m->claiming = true;
	store_query(m->app->store, "SELECT * FROM mail_claim($1::integer, $2::integer, $3::integer, $4::integer)",
		    4, values, claimed, m);
}

static void record_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mailer *m = arg;
	m->record_due = true;
	record_flush(m);
}

static void poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mailer *m = arg;
	start_queued(m);
	claim(m);
	record_flush(m);
}

static void poll_now(struct mailer *m)
{
	if (!m->stopped)
		event_active(m->kick, EV_TIMEOUT, 0);
}

void mail_kick(struct app *app)
{
	if (app->mail)
		poll_now(app->mail);
}

int mail_start(struct app *app)
{
	struct mailer *m = calloc(1, sizeof *m);
	if (!m)
		return -1;
	m->app = app;
	app->mail = m;
	m->outcomes = json_array();
	m->curl = curlloop_new(app->base, sent_done, sent_batch, m);
	m->record_timer = evtimer_new(app->base, record_timer_cb, m);
	m->poll = event_new(app->base, -1, EV_PERSIST, poll_cb, m);
	m->kick = event_new(app->base, -1, 0, poll_cb, m);
	if (!m->outcomes || !m->curl || !m->record_timer || !m->poll || !m->kick) {
		mail_stop(app);
		return -1;
	}
	/* the transfers' connections stay open between mails (curl keeps a few
	 * per transfer running by default, so a lull closed them and every
	 * few mails paid a new connection and EHLO) */
	curlloop_keep_connections(m->curl, MAIL_MAX_INFLIGHT);
	struct timeval tv = {0, MAIL_POLL_MS * 1000L};
	event_add(m->poll, &tv);
	poll_now(m);
	return 0;
}

void mail_stop(struct app *app)
{
	struct mailer *m = app->mail;
	if (!m)
		return;
	m->stopped = true;
	/* mails queued or in flight, and outcomes not recorded, are abandoned
	 * to their lease: sent again later, with the same Message-ID */
	while (m->head) {
		struct queued *q = m->head;
		m->head = q->next;
		queued_free(q);
	}
	m->tail = NULL;
	json_decref(m->outcomes);
	m->outcomes = NULL;
	while (m->list) {
		struct sending *s = m->list;
		m->list = s->next;   /* unlinked here, so the loop visibly moves on */
		if (s->next)
			s->next->prev = NULL;
		s->next = NULL;
		sending_free(s);
	}
	curlloop_free(m->curl);
	if (m->poll)
		event_free(m->poll);
	if (m->kick)
		event_free(m->kick);
	if (m->record_timer)
		event_free(m->record_timer);
	free(m);
	app->mail = NULL;
}
