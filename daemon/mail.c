/*
 * Outgoing mail: the outbox sender (see mail.h).
 *
 * Flow: a poll tick (or a NOTIFY siaod_mail) ─▶ mail_claim() leases due
 * mails ─▶ one SMTP transfer each on the shared curl loop (curlloop.h),
 * headers and a multipart/alternative body built with curl's MIME API ─▶
 * mail_record(): sent, retry (temporary failure: 4xx or network, on
 * mail_retry_schedule) or failed (5xx: permanent, shown on the account).
 * The Message-ID comes from the outbox row, fixed when the mail was queued.
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

struct mailer {
	struct app *app;
	struct curlloop *curl;
	struct event *poll, *kick;
	struct sending *list;
	int running;
	bool claiming, stopped;
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

static void recorded(void *arg, PGresult *res)
{
	if (store_result_failed(res))
		log_warn("mail", "event=outcome_not_recorded");
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
	char id[24], dl[16];
	snprintf(id, sizeof id, "%lld", (long long)s->id);
	snprintf(dl, sizeof dl, "%d", delay);
	const char *values[4] = {id, outcome, dl, error[0] ? error : NULL};
	store_query(m->app->store, "SELECT mail_record($1::bigint, $2, $3::integer, $4)", 4, values, recorded, NULL);
	sending_free(s);
	m->running--;
}

static void sent_batch(void *owner)
{
	poll_now(owner);
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

static void start_one(struct mailer *m, const PGresult *res, int row)
{
	const struct config *cfg = &m->app->cfg;
	/* mail_claim's columns, by name (sql/functions/mail.sql) */
	int f_id = PQfnumber(res, "id"), f_mid = PQfnumber(res, "message_id"), f_to = PQfnumber(res, "to_addr"),
	    f_subject = PQfnumber(res, "subject"), f_text = PQfnumber(res, "body_text"),
	    f_html = PQfnumber(res, "body_html"), f_attempts = PQfnumber(res, "attempts");
	if (f_id < 0 || f_mid < 0 || f_to < 0 || f_subject < 0 || f_text < 0 || f_html < 0 || f_attempts < 0) {
		log_error("mail", "error=\"mail_claim lacks a column\"");
		return;
	}
	struct sending *s = calloc(1, sizeof *s);
	if (!s)
		return;
	s->m = m;
	s->id = strtoll(PQgetvalue(res, row, f_id), NULL, 10);
	s->attempts = (int)strtol(PQgetvalue(res, row, f_attempts), NULL, 10);
	s->next = m->list;
	if (s->next)
		s->next->prev = s;
	m->list = s;
	const char *mid = PQgetvalue(res, row, f_mid), *to = PQgetvalue(res, row, f_to),
		   *subject = PQgetvalue(res, row, f_subject), *text = PQgetvalue(res, row, f_text),
		   *html = PQgetvalue(res, row, f_html);
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
	int f_unsub = PQfnumber(res, "list_unsubscribe");
	const char *unsub = f_unsub < 0 || PQgetisnull(res, row, f_unsub) ? NULL : PQgetvalue(res, row, f_unsub);
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
		char id[24];
		snprintf(id, sizeof id, "%lld", (long long)s->id);
		const char *values[4] = {id, "retry", "60", "could not prepare the message"};
		store_query(m->app->store, "SELECT mail_record($1::bigint, $2, $3::integer, $4)", 4, values,
			    recorded, NULL);
		if (s->easy) {
			curl_easy_cleanup(s->easy);
			s->easy = NULL;
		}
		sending_free(s);
		return;
	}
	m->running++;
}

static void claimed(void *arg, PGresult *res)
{
	struct mailer *m = arg;
	m->claiming = false;
	if (store_result_failed(res) || m->stopped)
		return;
	for (int i = 0; i < PQntuples(res); i++)
		start_one(m, res, i);
}

static void claim(struct mailer *m)
{
	if (m->claiming || m->stopped || !mail_enabled(&m->app->cfg) || m->running >= MAIL_MAX_INFLIGHT)
		return;
	char lim[16], lease[16];
	snprintf(lim, sizeof lim, "%d", MAIL_MAX_INFLIGHT - m->running);
	snprintf(lease, sizeof lease, "%d", m->app->cfg.mail_timeout_seconds + 5);
	const char *values[2] = {lim, lease};
	m->claiming = true;
	store_query(m->app->store, "SELECT * FROM mail_claim($1::integer, $2::integer)", 2, values, claimed, m);
}

static void poll_cb(evutil_socket_t fd, short what, void *arg)
{
	claim(arg);
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
	m->curl = curlloop_new(app->base, sent_done, sent_batch, m);
	m->poll = event_new(app->base, -1, EV_PERSIST, poll_cb, m);
	m->kick = event_new(app->base, -1, 0, poll_cb, m);
	if (!m->curl || !m->poll || !m->kick) {
		mail_stop(app);
		return -1;
	}
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
	/* mails in flight are abandoned to their lease: sent again later */
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
	free(m);
	app->mail = NULL;
}
