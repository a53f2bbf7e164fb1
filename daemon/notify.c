/*
 * People's notifications by e-mail (see notify.h).
 */
#include "notify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <event2/event.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "app.h"
#include "clock.h"
#include "log.h"
#include "mail.h"
#include "store.h"

#define NOTIFY_TICK_MS 1000
#define NOTIFY_BATCH 200        /* immediate notifications claimed at once */
#define NOTIFY_LEASE_SECONDS 60
#define DIGEST_BATCH 100        /* people whose digest is built at once */
/* A day's run is shared among DIGEST_LANES lanes (the people by account id
 * modulo), each going through its people in order; in each, the next batch
 * is read (and its mails made) while up to DIGEST_PIPELINE earlier ones are
 * written, as far as digest_room allows. So several database connections
 * work at once: a batch's round trips are mostly PostgreSQL's CPU. */
#define DIGEST_LANES 2
#define DIGEST_PIPELINE 1
#define KEY_MAX 128
/* how often digests are looked for again once none was left to build: a
 * digest released by an erasure is rebuilt, and a person's first items
 * arriving after the hour go out the same day */
#define DIGEST_RECHECK_SECONDS 5

/* One lane of the day's digests (see DIGEST_LANES). */
struct lane {
	struct notifier *nt;
	int index;
	bool asking;            /* notification_digest_due in flight */
	int recording;          /* notification_digested in flight (DIGEST_PIPELINE at most) */
	bool run_more;          /* the last batch had people: the day's run goes on */
	char done_day[11];      /* this lane found no digest left to build on that day, */
	time_t checked;         /* at that time */
	char day[11];           /* the day of the digests being built */
	int64_t after;          /* the run's cursor: the last account of the previous batch */
};

struct notifier {
	struct app *app;
	struct event *tick;
	unsigned char key[KEY_MAX];
	size_t keylen;                  /* 0: not known yet */
	bool asking_key, claiming, scanning, stopped;
	int digest_busy;        /* digest statements in flight, all lanes (see digest_room) */
	struct lane lanes[DIGEST_LANES];
};

/* ------------------------------------------------------------ tokens */

static const char *const kinds[] = {"stay_ending", "stay_overdue", "proposal_new", "proposal_answered",
				    "proposal_reminder", "capacity_available", "digest", NULL};

static bool kind_known(const char *k, size_t n)
{
	for (size_t i = 0; kinds[i]; i++)
		if (strlen(kinds[i]) == n && strncmp(kinds[i], k, n) == 0)
			return true;
	return false;
}

/* base64url without padding of the HMAC-SHA256 of "<account>.<kind>". */
static bool token_mac(const struct notifier *nt, int64_t account, const char *kind, size_t kindlen,
		      char out[44])
{
	char msg[96];
	int n = snprintf(msg, sizeof msg, "siaod-unsubscribe:%lld.%.*s", (long long)account, (int)kindlen, kind);
	unsigned char mac[EVP_MAX_MD_SIZE];
	size_t maclen = 0;
	if (nt->keylen == 0 || n < 0 || (size_t)n >= sizeof msg ||
	    !EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, nt->key, nt->keylen, (const unsigned char *)msg,
		       (size_t)n, mac, sizeof mac, &maclen) || maclen != 32)
		return false;
	unsigned char b64[48];
	EVP_EncodeBlock(b64, mac, 32); /* 44 chars, one '=' */
	/* base64 → base64url: the link's query needs no escaping */
	for (int i = 0; i < 43; i++) {
		char c = (char)(b64[i] & 0x7f);
		if (c == '+')
			c = '-';
		else if (c == '/')
			c = '_';
		out[i] = c;
	}
	out[43] = '\0';
	return true;
}

bool notify_token(struct app *app, int64_t account, const char *kind, char *out, size_t size)
{
	struct notifier *nt = app->notify;
	char mac[44];
	if (!nt || !token_mac(nt, account, kind, strlen(kind), mac))
		return false;
	int n = snprintf(out, size, "%lld.%s.%s", (long long)account, kind, mac);
	return n > 0 && (size_t)n < size;
}

bool notify_token_check(struct app *app, const char *token, int64_t *account, char *kind, size_t size)
{
	struct notifier *nt = app->notify;
	if (!nt || !token)
		return false;
	char *end = NULL;
	long long acc = strtoll(token, &end, 10);
	if (end == token || *end != '.' || acc <= 0)
		return false;
	const char *k = end + 1, *dot = strchr(k, '.');
	if (!dot || !kind_known(k, (size_t)(dot - k)) || (size_t)(dot - k) >= size || strlen(dot + 1) != 43)
		return false;
	char mac[44];
	if (!token_mac(nt, acc, k, (size_t)(dot - k), mac) || CRYPTO_memcmp(mac, dot + 1, 43) != 0)
		return false;
	*account = acc;
	snprintf(kind, size, "%.*s", (int)(dot - k), k);
	return true;
}

/* The link of a mail's unsubscribe, into out; false when it cannot be made. */
static bool unsubscribe_url(struct notifier *nt, int64_t account, const char *kind, char *out, size_t size)
{
	char token[160];
	if (!notify_token(nt->app, account, kind, token, sizeof token))
		return false;
	int n = snprintf(out, size, "%s/unsubscribe?token=%s", nt->app->cfg.public_url, token);
	return n > 0 && (size_t)n < size;
}

/* ------------------------------------------------------------ the key */

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static void work(struct notifier *nt);

static void key_read(void *arg, PGresult *res)
{
	struct notifier *nt = arg;
	nt->asking_key = false;
	if (store_result_failed(res) || PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
		return;
	const char *hex = PQgetvalue(res, 0, 0);
	size_t n = strlen(hex) / 2;
	if (n == 0 || n > KEY_MAX)
		return;
	for (size_t i = 0; i < n; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return;
		nt->key[i] = (unsigned char)(hi << 4 | lo);
	}
	nt->keylen = n;
	/* what is due goes at once, not a tick later */
	work(nt);
}

static void key_load(struct notifier *nt)
{
	const char *conf = nt->app->cfg.unsubscribe_secret;
	if (conf[0]) {
		size_t n = strlen(conf);
		nt->keylen = n > KEY_MAX ? KEY_MAX : n;
		memcpy(nt->key, conf, nt->keylen);
		return;
	}
	if (nt->asking_key)
		return;
	nt->asking_key = true;
	store_query(nt->app->store, "SELECT notification_secret_hex()", 0, NULL, key_read, nt);
}

/* ------------------------------------------------------------ immediate */

static void claim(struct notifier *nt, const char *today);
static void digest(struct lane *ln, const char *today);

static void mailed(void *arg, PGresult *res)
{
	struct notifier *nt = arg;
	nt->claiming = false;
	if (store_result_failed(res)) {
		log_warn("notify", "event=not_recorded");
		return;
	}
	long n = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	if (n > 0) {
		log_info("notify", "mails=%ld", n);
		mail_kick(nt->app);
	}
	/* a full batch: more may be due, without waiting for the tick */
	if (n >= NOTIFY_BATCH && !nt->stopped) {
		char today[11];
		clock_today(&nt->app->cfg, today);
		claim(nt, today);
	}
}

static void claimed(void *arg, PGresult *res)
{
	struct notifier *nt = arg;
	int n = store_result_failed(res) ? 0 : PQntuples(res);
	/* notification_claim's columns, by name (sql/functions/notifications.sql) */
	int f_id = PQfnumber(res, "id"), f_acc = PQfnumber(res, "account_id"), f_email = PQfnumber(res, "email"),
	    f_kind = PQfnumber(res, "kind"), f_view = PQfnumber(res, "view");
	if (n == 0 || nt->stopped || f_id < 0 || f_acc < 0 || f_email < 0 || f_kind < 0 || f_view < 0) {
		nt->claiming = false;
		return;
	}
	json_t *batch = json_array();
	for (int i = 0; batch && i < n; i++) {
		long long acc = strtoll(PQgetvalue(res, i, f_acc), NULL, 10);
		json_t *view = json_loads(PQgetvalue(res, i, f_view), 0, NULL);
		char url[512];
		json_t *mail = view && unsubscribe_url(nt, acc, PQgetvalue(res, i, f_kind), url, sizeof url)
			       ? mail_notification(&nt->app->cfg, PQgetvalue(res, i, f_email), view, url) : NULL;
		json_decref(view);
		/* without a mail, the lease runs out and the next tick tries again */
		if (mail)
			json_array_append_new(batch, json_pack("{s:I, s:o}", "id",
							       (json_int_t)strtoll(PQgetvalue(res, i, f_id), NULL, 10),
							       "mail", mail));
	}
	char *text = batch ? json_dumps(batch, JSON_COMPACT) : NULL;
	json_decref(batch);
	if (!text) {
		nt->claiming = false;
		return;
	}
	const char *values[1] = {text};
	store_query(nt->app->store, "SELECT notification_mailed($1::jsonb)", 1, values, mailed, nt);
	free(text);
}

static void claim(struct notifier *nt, const char *today)
{
	if (nt->claiming)
		return;
	char lim[16], lease[16];
	snprintf(lim, sizeof lim, "%d", NOTIFY_BATCH);
	snprintf(lease, sizeof lease, "%d", NOTIFY_LEASE_SECONDS);
	const char *values[3] = {today, lim, lease};
	nt->claiming = true;
	store_query(nt->app->store, "SELECT * FROM notification_claim($1::date, $2::integer, $3::integer)", 3,
		    values, claimed, nt);
}

/* ------------------------------------------------------------ digests */

/* The day's digests never hold more than all but two of the pool's
 * connections: the mails they queue (claims and records) and people's
 * requests keep two. Each lane's pipeline would otherwise take the whole
 * pool (a read and a write per lane), and the mails of the first batches
 * waited behind the next batches' statements. */
static bool digest_room(const struct notifier *nt)
{
	int budget = nt->app->cfg.db_pool_size - 2;
	return nt->digest_busy < (budget > 1 ? budget : 1);
}

static void digest_all(struct notifier *nt)
{
	char today[11];
	clock_today(&nt->app->cfg, today);
	for (int i = 0; i < DIGEST_LANES; i++)
		digest(&nt->lanes[i], today);
}

static void digested(void *arg, PGresult *res)
{
	struct lane *ln = arg;
	struct notifier *nt = ln->nt;
	ln->recording--;
	nt->digest_busy--;
	if (store_result_failed(res)) {
		log_warn("digest", "event=not_recorded");
		return;
	}
	long n = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	if (n > 0) {
		log_info("digest", "mails=%ld", n);
		mail_kick(nt->app);
	}
	/* the run goes on at once (a day's digests are built back to back,
	 * not one batch a tick), in whichever lane this room lets go on */
	if (!nt->stopped)
		digest_all(nt);
}

static void digest_due(void *arg, PGresult *res)
{
	struct lane *ln = arg;
	struct notifier *nt = ln->nt;
	ln->asking = false;
	nt->digest_busy--;
	if (store_result_failed(res) || nt->stopped)
		return;
	int n = PQntuples(res);
	/* notification_digest_due's columns, by name */
	int f_acc = PQfnumber(res, "account_id"), f_email = PQfnumber(res, "email"), f_items = PQfnumber(res, "items");
	if (n > 0 && (f_acc < 0 || f_email < 0 || f_items < 0)) {
		log_error("digest", "error=\"notification_digest_due lacks a column\"");
		return;
	}
	if (n == 0) {
		/* nothing left to build today on this instance's reading: the
		 * next look (DIGEST_RECHECK_SECONDS) starts from the first person */
		snprintf(ln->done_day, sizeof ln->done_day, "%s", ln->day);
		ln->checked = time(NULL);
		ln->after = 0;
		ln->run_more = false;
		return;
	}
	ln->run_more = true;
	json_t *batch = json_array();
	for (int i = 0; batch && i < n; i++) {
		long long acc = strtoll(PQgetvalue(res, i, f_acc), NULL, 10);
		/* in account order: the last is the cursor (a digest dropped below
		 * is built on the next run) */
		if (acc > ln->after)
			ln->after = acc;
		json_t *items = json_loads(PQgetvalue(res, i, f_items), 0, NULL);
		json_t *ids = json_array();
		for (size_t j = 0; ids && j < json_array_size(items); j++)
			json_array_append(ids, json_object_get(json_array_get(items, j), "id"));
		char url[512];
		json_t *mail = items && ids && unsubscribe_url(nt, acc, "digest", url, sizeof url)
			       ? mail_digest(&nt->app->cfg, PQgetvalue(res, i, f_email), items, ln->day, url)
			       : NULL;
		json_decref(items);
		if (mail)
			json_array_append_new(batch, json_pack("{s:I, s:o, s:o}", "account_id", (json_int_t)acc,
							       "ids", ids, "mail", mail));
		else
			json_decref(ids);
	}
	char *text = batch ? json_dumps(batch, JSON_COMPACT) : NULL;
	json_decref(batch);
	if (text) {
		const char *values[2] = {text, ln->day};
		ln->recording++;
		nt->digest_busy++;
		store_query(nt->app->store, "SELECT notification_digested($1::jsonb, $2::date)", 2, values, digested,
			    ln);
		free(text);
	}
	/* the next people while this batch is written */
	digest_all(nt);
}

/* Reads the lane's next batch of the day's run, when none is being read
 * and the pipeline has room. */
static void digest(struct lane *ln, const char *today)
{
	struct notifier *nt = ln->nt;
	if (ln->asking || ln->recording >= DIGEST_PIPELINE || nt->stopped || !digest_room(nt) ||
	    clock_hour(&nt->app->cfg) < nt->app->cfg.digest_hour)
		return;
	/* between runs: look again every DIGEST_RECHECK_SECONDS */
	if (!ln->run_more && strcmp(ln->done_day, today) == 0 && time(NULL) - ln->checked < DIGEST_RECHECK_SECONDS)
		return;
	char lim[16], after[24], lanes[16], lane[16];
	if (strcmp(ln->day, today) != 0)
		ln->after = 0; /* a new day: a new run */
	snprintf(lim, sizeof lim, "%d", DIGEST_BATCH);
	snprintf(after, sizeof after, "%lld", (long long)ln->after);
	snprintf(lanes, sizeof lanes, "%d", DIGEST_LANES);
	snprintf(lane, sizeof lane, "%d", ln->index);
	snprintf(ln->day, sizeof ln->day, "%s", today);
	const char *values[5] = {today, lim, after, lanes, lane};
	ln->asking = true;
	nt->digest_busy++;
	store_query(nt->app->store,
		    "SELECT * FROM notification_digest_due($1::date, $2::integer, $3::bigint, $4::integer, $5::integer)",
		    5, values, digest_due, ln);
}

/* ------------------------------------------------------------ reminders */

static void reminded(void *arg, PGresult *res)
{
	struct notifier *nt = arg;
	nt->scanning = false;
	if (store_result_failed(res)) {
		log_warn("proposal_reminders", "result=failed");
		return;
	}
	long n = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	if (n > 0)
		log_info("proposal_reminders", "notifications=%ld", n);
}

void notify_scan_reminders(struct app *app)
{
	struct notifier *nt = app->notify;
	if (!nt || nt->scanning)
		return;
	char today[11], days[16];
	clock_today(&app->cfg, today);
	snprintf(days, sizeof days, "%d", app->cfg.proposal_reminder_days);
	const char *values[2] = {today, days};
	nt->scanning = true;
	store_query(app->store, "SELECT notifications_reminders($1::date, $2::integer)", 2, values, reminded, nt);
}

/* ------------------------------------------------------------ lifetime */

static void work(struct notifier *nt)
{
	if (nt->stopped)
		return;
	if (nt->keylen == 0) {
		/* the unsubscribe route needs it even without outgoing mail */
		key_load(nt);
		return;
	}
	if (!mail_enabled(&nt->app->cfg) || !store_ready(nt->app->store))
		return;
	char today[11];
	clock_today(&nt->app->cfg, today);
	claim(nt, today);
	for (int i = 0; i < DIGEST_LANES; i++)
		digest(&nt->lanes[i], today);
}

static void tick(evutil_socket_t fd, short what, void *arg)
{
	work(arg);
}

int notify_start(struct app *app)
{
	struct notifier *nt = calloc(1, sizeof *nt);
	if (!nt)
		return -1;
	nt->app = app;
	app->notify = nt;
	for (int i = 0; i < DIGEST_LANES; i++) {
		nt->lanes[i].nt = nt;
		nt->lanes[i].index = i;
	}
	nt->tick = event_new(app->base, -1, EV_PERSIST, tick, nt);
	struct timeval tv = {0, NOTIFY_TICK_MS * 1000L};
	if (!nt->tick || event_add(nt->tick, &tv) != 0) {
		notify_stop(app);
		return -1;
	}
	key_load(nt);
	return 0;
}

void notify_stop(struct app *app)
{
	struct notifier *nt = app->notify;
	if (!nt)
		return;
	nt->stopped = true;
	if (nt->tick)
		event_free(nt->tick);
	OPENSSL_cleanse(nt->key, sizeof nt->key);
	/* called after store_free (main.c): no query of ours is in flight */
	app->notify = NULL;
	free(nt);
}
