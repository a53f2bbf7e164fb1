/*
 * Webhook delivery on libcurl multi + libevent (see webhooks.h).
 *
 * Capacity events get their candidates first (candidates.c).
 *
 * Flow of one delivery:
 *   poll tick ─▶ deliveries_claim() ─▶ attempt_start(): easy handle, signed
 *   headers ─▶ curl multi on the loop ─▶ attempt_done(): outcome (succeeded,
 *   retry after the schedule or Retry-After, failed, gone on 410) ─▶ batched
 *   deliveries_record().
 *
 * The curl glue (sockets and timer on the loop) is curlloop.c's, shared with
 * the outgoing mail and the OpenID Connect client.
 */
#include "webhooks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <curl/curl.h>
#include <event2/event.h>
#include <jansson.h>

#include "app.h"
#include "candidates.h"
#include "curlloop.h"
#include "log.h"
#include "metrics.h"
#include "netaddr.h"
#include "signature.h"
#include "store.h"

#define POLL_MS 500                /* look for due work at least this often */
#define RECORD_BATCH 100           /* outcomes recorded per round trip, at most */

struct engine {
	struct app *app;
	struct curlloop *curl;        /* see curlloop.h */
	struct event *poll;           /* every POLL_MS */
	struct event *kick;           /* once, as soon as possible: more work may be due */
	bool kicked;                  /* a kick came while a claim or enrichment ran */
	bool written;                 /* webhooks_refreshed: a write's refresh is published */
	struct candidates *candidates;/* capacity events' candidates, see candidates.h */
	int running;                  /* attempts in flight */
	struct attempt *attempts;     /* their list, to abandon them at exit */
	bool claiming, recording, stopped;
	json_t *outcomes;             /* waiting to be recorded */
};

struct attempt {
	struct engine *e;
	struct attempt *prev, *next;
	CURL *easy;
	struct curl_slist *headers;
	char *body;
	int64_t delivery_id;
	int attempts;                 /* including this one */
	long retry_after;             /* seconds, from a 429/503 answer */
	struct timespec started;
	char errbuf[CURL_ERROR_SIZE];
};

static struct engine *engine_of(struct app *app)
{
	return app->webhooks;
}

static void poll_now(struct engine *e);
static void record_flush(struct engine *e);

/* Refuses to connect to a private address unless the config allows it: the
 * check happens on the resolved address, so a name cannot hide one. */
static curl_socket_t open_socket_cb(void *clientp, curlsocktype purpose, struct curl_sockaddr *addr)
{
	struct engine *e = clientp;
	if (!e->app->cfg.webhook_allow_private && netaddr_is_private(&addr->addr))
		return CURL_SOCKET_BAD;
	return socket(addr->family, addr->socktype, addr->protocol);
}

static size_t discard_cb(char *ptr, size_t size, size_t n, void *userp)
{
	return size * n;
}

static size_t header_cb(char *buf, size_t size, size_t n, void *userp)
{
	struct attempt *a = userp;
	size_t len = size * n;
	if (len > 12 && strncasecmp(buf, "Retry-After:", 12) == 0) {
		char value[64];
		size_t v = len - 12 < sizeof value - 1 ? len - 12 : sizeof value - 1;
		memcpy(value, buf + 12, v);
		value[v] = '\0';
		char *end;
		long secs = strtol(value, &end, 10);
		if (end != value && secs >= 0) {
			a->retry_after = secs;
		} else {
			/* an HTTP date */
			time_t when = curl_getdate(value, NULL);
			if (when > 0)
				a->retry_after = when - time(NULL) > 0 ? (long)(when - time(NULL)) : 0;
		}
	}
	return len;
}

/* ---------------------------------------------------------------- outcomes */

static double elapsed_ms(const struct timespec *since)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - since->tv_sec) * 1e3 + (double)(now.tv_nsec - since->tv_nsec) / 1e6;
}

/* Seconds before the next attempt: the schedule's delay for this retry,
 * give or take 10 % so that retries of many deliveries spread out, and at
 * least what the receiver asked for. -1 when the schedule is exhausted. */
static long retry_delay(const struct config *cfg, int attempts, long retry_after)
{
	if (attempts > cfg->n_retries)
		return -1;
	long base = cfg->retry_seconds[attempts - 1];
	long jitter = base / 10;
	long delay = base + (jitter > 0 ? (long)(random() % (2 * jitter + 1)) - jitter : 0);
	if (retry_after > delay)
		delay = retry_after > 86400 ? 86400 : retry_after;
	return delay;
}

static void attempt_free(struct attempt *a)
{
	if (a->prev)
		a->prev->next = a->next;
	else if (a->e->attempts == a)
		a->e->attempts = a->next;
	if (a->next)
		a->next->prev = a->prev;
	curl_slist_free_all(a->headers);
	free(a->body);
	free(a);
}

static void attempt_done(struct engine *e, struct attempt *a, CURLcode rc)
{
	long code = 0;
	curl_easy_getinfo(a->easy, CURLINFO_RESPONSE_CODE, &code);
	const struct config *cfg = &e->app->cfg;
	const char *outcome;
	long delay = 0;
	char error[CURL_ERROR_SIZE + 32] = "";
	if (rc != CURLE_OK)
		snprintf(error, sizeof error, "%s", a->errbuf[0] ? a->errbuf : curl_easy_strerror(rc));
	else if (code >= 300 && code < 400)
		snprintf(error, sizeof error, "redirect not followed (%ld)", code);
	if (rc == CURLE_OK && code >= 200 && code < 300) {
		outcome = "succeeded";
	} else if (rc == CURLE_OK && code == 410) {
		outcome = "gone";
	} else {
		long ra = rc == CURLE_OK && (code == 429 || code == 503) ? a->retry_after : 0;
		delay = retry_delay(cfg, a->attempts, ra);
		outcome = delay < 0 ? "failed" : "retry";
	}
	json_t *o = json_pack("{s:I, s:s, s:i, s:I}", "delivery_id", (json_int_t)a->delivery_id,
			      "outcome", outcome, "duration_ms", (int)elapsed_ms(&a->started),
			      "retry_in_seconds", (json_int_t)(delay > 0 ? delay : 0));
	if (code > 0)
		json_object_set_new(o, "status_code", json_integer(code));
	if (error[0])
		json_object_set_new(o, "error", json_string(error));
	json_array_append_new(e->outcomes, o);
	metrics_delivery(outcome);
	log_info("webhook_attempt", "delivery=%lld attempt=%d status=%ld outcome=%s%s",
		 (long long)a->delivery_id, a->attempts, code, outcome,
		 rc != CURLE_OK ? " transport_error=1" : "");
	curlloop_remove(e->curl, a->easy);
	curl_easy_cleanup(a->easy);
	attempt_free(a);
	e->running--;
	if (json_array_size(e->outcomes) >= RECORD_BATCH || !e->recording)
		record_flush(e);
}

/* curlloop: one transfer finished */
static void transfer_done(void *owner, CURL *easy, CURLcode rc)
{
	struct attempt *a = NULL;
	curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&a);
	attempt_done(owner, a, rc);
}

/* curlloop: a round finished some; look for more work */
static void transfers_done(void *owner)
{
	poll_now(owner);
}

static void record_done(void *arg, PGresult *res)
{
	struct engine *e = arg;
	e->recording = false;
	if (store_result_failed(res))
		log_warn("webhook_record", "result=failed reason=%s", res ? "sql_error" : "database_unavailable");
	if (json_array_size(e->outcomes) > 0)
		record_flush(e);
	else if (!e->stopped)
		poll_now(e); /* the endpoints have room again */
}

/* One round trip for up to RECORD_BATCH outcomes. If it fails the
 * deliveries stay leased and are attempted again when the lease ends:
 * at least once, never lost. */
static void record_flush(struct engine *e)
{
	if (e->recording || json_array_size(e->outcomes) == 0)
		return;
	json_t *batch = e->outcomes;
	e->outcomes = json_array();
	char *text = json_dumps(batch, JSON_COMPACT);
	json_decref(batch);
	if (!text)
		return;
	e->recording = true;
	const char *values[1] = {text};
	store_query(e->app->store, "SELECT deliveries_record($1::jsonb)", 1, values, record_done, e);
	free(text);
}

/* ---------------------------------------------------------------- attempts */

/* Appends h to *list; false (and *list untouched, still to free) when
 * curl cannot: curl_slist_append's NULL must not replace the list. */
static bool header_add(struct curl_slist **list, const char *h)
{
	struct curl_slist *n = curl_slist_append(*list, h);
	if (!n)
		return false;
	*list = n;
	return true;
}

static void attempt_start(struct engine *e, const PGresult *res, int row)
{
	/* deliveries_claim's columns, by name (sql/functions/webhooks.sql) */
	int f_id = PQfnumber(res, "delivery_id"), f_url = PQfnumber(res, "url"),
	    f_secret = PQfnumber(res, "secret"), f_event = PQfnumber(res, "event_id"),
	    f_body = PQfnumber(res, "body"), f_attempts = PQfnumber(res, "attempts");
	if (f_id < 0 || f_url < 0 || f_secret < 0 || f_event < 0 || f_body < 0 || f_attempts < 0) {
		log_error("webhooks", "error=\"deliveries_claim lacks a column\"");
		return;
	}
	struct attempt *a = calloc(1, sizeof *a);
	if (!a)
		return;
	a->e = e;
	a->delivery_id = strtoll(PQgetvalue(res, row, f_id), NULL, 10);
	const char *url = PQgetvalue(res, row, f_url), *secret = PQgetvalue(res, row, f_secret);
	const char *event_id = PQgetvalue(res, row, f_event);
	size_t body_len = (size_t)PQgetlength(res, row, f_body);
	a->attempts = (int)strtol(PQgetvalue(res, row, f_attempts), NULL, 10);
	a->body = malloc(body_len + 1);
	a->easy = curl_easy_init();
	/* not started: the claim's lease brings the delivery back later */
	if (!a->body || !a->easy)
		goto fail;
	memcpy(a->body, PQgetvalue(res, row, f_body), body_len + 1);

	/* webhook-timestamp is fresh on every attempt; webhook-id is the event's */
	long long ts = (long long)time(NULL);
	char sig[SIGNATURE_HEADER_MAX], h_id[128], h_ts[48], h_sig[SIGNATURE_HEADER_MAX + 24];
	if (signature_sign(secret, event_id, ts, a->body, body_len, sig) != 0)
		snprintf(sig, sizeof sig, "v1,invalid-secret");
	snprintf(h_id, sizeof h_id, "webhook-id: %s", event_id);
	snprintf(h_ts, sizeof h_ts, "webhook-timestamp: %lld", ts);
	snprintf(h_sig, sizeof h_sig, "webhook-signature: %s", sig);
	if (!header_add(&a->headers, "Content-Type: application/json") ||
	    !header_add(&a->headers, h_id) || !header_add(&a->headers, h_ts) ||
	    !header_add(&a->headers, h_sig) ||
	    !header_add(&a->headers, "User-Agent: siaod/" SIAOD_VERSION) ||
	    !header_add(&a->headers, "Expect:"))
		goto fail;

	/* Every option counts (a refused PROTOCOLS_STR would allow any scheme,
	 * a refused OPENSOCKETFUNCTION any address): the first refusal stops
	 * the attempt. */
	CURL *c = a->easy;
	CURLcode rc = CURLE_OK;
	const char *option = NULL;
#define SET(opt, val) \
	do { \
		if (rc == CURLE_OK && (rc = curl_easy_setopt(c, opt, val)) != CURLE_OK) \
			option = #opt; \
	} while (0)
	SET(CURLOPT_URL, url);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_HTTPHEADER, a->headers);
	SET(CURLOPT_POSTFIELDS, a->body);
	SET(CURLOPT_POSTFIELDSIZE, (long)body_len);
	SET(CURLOPT_FOLLOWLOCATION, 0L);     /* a redirect is a failure */
	SET(CURLOPT_TIMEOUT_MS, (long)e->app->cfg.webhook_timeout_seconds * 1000L);
	SET(CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_PRIVATE, a);
	SET(CURLOPT_ERRORBUFFER, a->errbuf);
	SET(CURLOPT_WRITEFUNCTION, discard_cb);
	SET(CURLOPT_HEADERFUNCTION, header_cb);
	SET(CURLOPT_HEADERDATA, a);
	SET(CURLOPT_OPENSOCKETFUNCTION, open_socket_cb);
	SET(CURLOPT_OPENSOCKETDATA, e);
#undef SET
	if (rc != CURLE_OK) {
		log_error("webhooks", "delivery=%lld option=%s error=\"%s\"", (long long)a->delivery_id,
			  option, curl_easy_strerror(rc));
		goto fail;
	}
	clock_gettime(CLOCK_MONOTONIC, &a->started);
	if (curlloop_add(e->curl, c) != 0)
		goto fail;
	a->next = e->attempts;
	if (a->next)
		a->next->prev = a;
	e->attempts = a;
	e->running++;
	return;
fail:
	if (a->easy)
		curl_easy_cleanup(a->easy);
	attempt_free(a);   /* the headers, the body, a */
}

static void claim_done(void *arg, PGresult *res)
{
	struct engine *e = arg;
	e->claiming = false;
	if (store_result_failed(res) || e->stopped)
		return;
	int n = PQntuples(res);
	for (int i = 0; i < n; i++)
		attempt_start(e, res, i);
	/* more may be due (a full batch), or a kick came while we claimed */
	if ((n > 0 || e->kicked) && e->running < e->app->cfg.webhook_max_inflight)
		poll_now(e);
}

static void claim(struct engine *e)
{
	const struct config *cfg = &e->app->cfg;
	int room = cfg->webhook_max_inflight - e->running;
	if (e->claiming || e->stopped || room <= 0 || !store_ready(e->app->store))
		return;
	char limit[16], per[16], lease[16];
	snprintf(limit, sizeof limit, "%d", room > 200 ? 200 : room);
	snprintf(per, sizeof per, "%d", cfg->webhook_max_per_endpoint);
	/* the lease outlives the attempt's timeout, so only a crash lets it lapse */
	snprintf(lease, sizeof lease, "%d", cfg->webhook_timeout_seconds + 30);
	const char *values[3] = {limit, per, lease};
	e->claiming = true;
	store_query(e->app->store, "SELECT * FROM deliveries_claim($1::integer, $2::integer, $3::integer)",
		    3, values, claim_done, e);
}

/* ---------------------------------------------------------------- polling */

static void poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct engine *e = arg;
	bool written = e->written;
	e->kicked = e->written = false;
	candidates_round(e->candidates, written);
	claim(e);
	record_flush(e);
}

/* A round of candidates made events ready: their deliveries may be due. */
static void candidates_done(void *arg)
{
	poll_now(arg);
}

/* A kick has its own one-shot event: activating the periodic timer itself
 * would push its next tick back every time (libevent 2.1). */
static void poll_now(struct engine *e)
{
	e->kicked = true;
	event_active(e->kick, EV_TIMEOUT, 0);
}

void webhooks_kick(struct app *app)
{
	struct engine *e = engine_of(app);
	if (e && !e->stopped)
		poll_now(e);
}

void webhooks_refreshed(struct app *app)
{
	struct engine *e = engine_of(app);
	if (e && !e->stopped) {
		e->written = true;
		poll_now(e);
	}
}

int webhooks_start(struct app *app)
{
	struct engine *e = calloc(1, sizeof *e);
	if (!e)
		return -1;
	e->app = app;
	e->outcomes = json_array();
	e->curl = curlloop_new(app->base, transfer_done, transfers_done, e);
	e->poll = event_new(app->base, -1, EV_PERSIST, poll_cb, e);
	e->kick = event_new(app->base, -1, 0, poll_cb, e);
	e->candidates = candidates_new(app, candidates_done, e);
	if (!e->outcomes || !e->curl || !e->poll || !e->kick || !e->candidates) {
		app->webhooks = e;
		webhooks_stop(app);
		return -1;
	}
	struct timeval tv = {0, POLL_MS * 1000L};
	app->webhooks = e;
	if (event_add(e->poll, &tv) != 0) {
		webhooks_stop(app);
		return -1;
	}
	poll_now(e);
	return 0;
}

void webhooks_drain(struct app *app)
{
	struct engine *e = engine_of(app);
	if (e) {
		e->stopped = true;
		candidates_stop(e->candidates);
	}
}

void webhooks_stop(struct app *app)
{
	struct engine *e = engine_of(app);
	if (!e)
		return;
	e->stopped = true;
	candidates_stop(e->candidates);
	candidates_free(e->candidates);
	/* abandon attempts in flight: their leases bring them back */
	while (e->attempts) {
		struct attempt *a = e->attempts;
		/* unlinked here, so the loop visibly moves on */
		e->attempts = a->next;
		if (a->next)
			a->next->prev = NULL;
		a->next = NULL;
		curlloop_remove(e->curl, a->easy);
		curl_easy_cleanup(a->easy);
		attempt_free(a);
	}
	curlloop_free(e->curl);
	if (e->poll)
		event_free(e->poll);
	if (e->kick)
		event_free(e->kick);
	json_decref(e->outcomes);
	free(e);
	app->webhooks = NULL;
}
