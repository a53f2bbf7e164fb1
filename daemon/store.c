/*
 * A pool of non-blocking libpq connections on the libevent loop (see store.h).
 *
 * Each connection is a small state machine:
 *   DOWN ──timer──▶ CONNECTING ──poll ok──▶ IDLE ──send──▶ BUSY ──results──▶ IDLE
 *      ▲                 │ failed                │ socket lost / error │
 *      └─────────────────┴───────────────────────┴─────────────────────┘
 * A job in flight on a connection that dies is answered with res = NULL;
 * queued jobs wait for another connection, or fail at once when none is up.
 */
#include "store.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>

#include "log.h"
#include "metrics.h"

enum conn_state { CONN_DOWN, CONN_CONNECTING, CONN_IDLE, CONN_BUSY };

/* Statements prepared on one connection, by SQL text. The daemon's SQL is a
 * few hundred fixed texts run again and again: an unnamed statement is
 * parsed, analysed and planned at every call, a prepared one once per
 * session (PostgreSQL keeps a generic plan when it is as good, else plans
 * with the values). Names are never reused on a connection ("s1", "s2"...):
 * after a server-side invalidation the table is emptied and the texts are
 * prepared again under new names. */
#define STMT_SLOTS 512       /* open addressing, a power of two */
#define STMT_MAX 256         /* beyond: unnamed statements (texts built at run time) */

struct stmt {
	char *sql;               /* owned copy; NULL: empty slot */
	uint64_t hash;
	unsigned name;           /* "s<name>" */
	bool ready;              /* its Parse succeeded */
	bool broken;             /* its Parse failed: always sent unnamed */
};

struct job {
	struct job *next;
	const char *sql;     /* copied into the same allocation */
	int nparams;
	char **values;       /* nparams pointers into the same allocation */
	store_cb cb;
	void *arg;
	int timeout_ms;      /* > 0: this statement's own statement_timeout (pipelined) */
	bool resent;         /* sent again once after its prepared statement was invalidated */
};

struct conn {
	struct store *st;
	int index;
	PGconn *pg;
	enum conn_state state;
	struct event *ev;    /* the socket, re-created after each (re)connect */
	struct event *retry; /* reconnect timer */
	int backoff_ms;
	struct job *job;     /* in flight while BUSY */
	PGresult *result;    /* last result of the job in flight */
	bool pipeline;       /* the job in flight was sent as a pipeline (timeout_ms, or a Parse first) */
	bool listener;       /* the connection that LISTENs: never given jobs */
	struct stmt *stmts;  /* STMT_SLOTS, allocated at first use; NULL: none */
	int nstmts;
	unsigned next_name;
	struct stmt *parsing;   /* prepared with the job in flight: its Parse's result comes first */
	bool sent_prepared;     /* the job in flight runs a prepared statement */
};

struct store {
	struct event_base *base;
	char *conninfo;
	int nconns;
	struct conn *conns;
	struct job *head, *tail;
	int queued;
	bool closing;        /* store_free has begun: take no more work */
	char origin[24];     /* siaod.origin of every session ("": none) */
	bool prepare;        /* prepare the statements (store_prepare_statements) */
	char options[200];   /* the sessions' options, with it */
	/* LISTEN/NOTIFY, on a connection of its own (see store_listen) */
	struct conn listener;
	char *listen_sql;
	store_notify_cb notify;
	store_up_cb listen_up;
	void *notify_arg;
};

static void conn_socket_cb(evutil_socket_t fd, short what, void *arg);
static bool store_own_backend(const struct store *st, int pid);
static void conn_retry_cb(evutil_socket_t fd, short what, void *arg);
static void conn_start_connect(struct conn *c);
static void store_dispatch(struct store *st);

static const char *const conn_keywords[] = {"dbname", "options", "application_name",
					    "connect_timeout", NULL};

/* A statement that runs away must not pin a pooled connection forever.
 * search_path: the API functions (schema api, sql/functions) before the
 * tables and what they depend on (public); set here, at connection, so it
 * costs no round trip and the SQL in C names no schema. */
#define CONN_OPTIONS "-c statement_timeout=15000 -c idle_in_transaction_session_timeout=30000 " \
		     "-c search_path=api,public"

static void conn_values(struct store *st, const char *values[5])
{
	values[0] = st->conninfo;
	/* siaod.origin: the instance, which the change table's rows written
	 * in these sessions carry (sql/022, changes.h) */
	if (st->origin[0]) {
		snprintf(st->options, sizeof st->options, "%s -c siaod.origin=%s", CONN_OPTIONS, st->origin);
		values[1] = st->options;
	} else {
		values[1] = CONN_OPTIONS;
	}
	values[2] = "siaod";
	values[3] = "5";
	values[4] = NULL;
}

/* Server notices ("relation already exists, skipping") are not ours to print. */
static void quiet_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* The first line of libpq's message, copied (strtok would write into
 * libpq's buffer, and gives NULL for an empty message: never a %s). */
static const char *pq_first_line(const PGconn *pg, char *buf, size_t size)
{
	const char *m = pg ? PQerrorMessage(pg) : NULL;
	size_t n = m ? strcspn(m, "\n") : 0;
	if (n == 0)
		return "unknown error";
	if (n >= size)
		n = size - 1;
	memcpy(buf, m, n);
	buf[n] = '\0';
	return buf;
}

static PGconn *connect_blocking(struct store *st)
{
	const char *values[5];
	conn_values(st, values);
	PGconn *pg = PQconnectdbParams(conn_keywords, values, 1);
	if (PQstatus(pg) != CONNECTION_OK) {
		char why[256];
		log_error("db_connect", "error=\"%s\"", pq_first_line(pg, why, sizeof why));
		PQfinish(pg);
		return NULL;
	}
	PQsetNoticeProcessor(pg, quiet_notice, NULL);
	return pg;
}

PGconn *store_connect_blocking(const char *conninfo)
{
	struct store tmp = {.conninfo = (char *)conninfo};
	return connect_blocking(&tmp);
}

static void job_free(struct job *j)
{
	free(j);
}

/* ---------------------------------------------------------------- prepared statements */

static uint64_t stmt_hash(const char *sql)
{
	uint64_t h = 14695981039346656037ULL;   /* FNV-1a */
	for (const unsigned char *p = (const unsigned char *)sql; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return h;
}

/* Forgets every statement of c (its session ended, or the server dropped
 * one): the next uses prepare them again. */
static void stmts_clear(struct conn *c)
{
	if (c->stmts)
		for (int i = 0; i < STMT_SLOTS; i++) {
			free(c->stmts[i].sql);
			c->stmts[i] = (struct stmt){0};
		}
	c->nstmts = 0;
	c->parsing = NULL;
}

/* The statement of c for this text, added (not ready) if new; NULL when it
 * must go unnamed: preparing is off, the table is full, out of memory, or
 * its Parse failed before. */
static struct stmt *stmt_for(struct conn *c, const char *sql)
{
	if (!c->st->prepare)
		return NULL;
	if (!c->stmts && !(c->stmts = calloc(STMT_SLOTS, sizeof *c->stmts)))
		return NULL;
	uint64_t h = stmt_hash(sql);
	size_t i = (size_t)h & (STMT_SLOTS - 1);
	for (; c->stmts[i].sql; i = (i + 1) & (STMT_SLOTS - 1))
		if (c->stmts[i].hash == h && strcmp(c->stmts[i].sql, sql) == 0)
			return c->stmts[i].broken ? NULL : &c->stmts[i];
	if (c->nstmts >= STMT_MAX || !(c->stmts[i].sql = strdup(sql)))
		return NULL;
	c->stmts[i].hash = h;
	c->stmts[i].name = ++c->next_name;
	c->nstmts++;
	return &c->stmts[i];
}

/* An error that says the server no longer has (or can no longer run) a
 * statement this session prepared: it was deallocated, or what it reads
 * changed shape under it (another instance re-created schema api with a
 * function returning other columns). Raised before the statement runs:
 * sending the job again is safe. */
static bool stmt_invalidated(const PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	return state && (strcmp(state, "26000") == 0 ||
			 (strcmp(state, "0A000") == 0 && msg &&
			  strncmp(msg, "cached plan must not change result type", 39) == 0));
}

static void conn_down(struct conn *c, const char *why);

/* Watches the connection's socket for what. A connection nobody watches
 * would hang its jobs forever: when libevent cannot, the connection goes
 * down (and retries) and false says the caller must stop using it. */
static bool conn_watch(struct conn *c, short what)
{
	if (c->ev) {
		event_free(c->ev);
		c->ev = NULL;
	}
	int fd = PQsocket(c->pg);
	if (fd < 0) {
		conn_down(c, "no socket");
		return false;
	}
	c->ev = event_new(c->st->base, fd, what, conn_socket_cb, c);
	if (!c->ev || event_add(c->ev, NULL) != 0) {
		conn_down(c, "cannot watch the socket");
		return false;
	}
	return true;
}

static void conn_down(struct conn *c, const char *why)
{
	if (c->state != CONN_DOWN && c->listener)
		log_warn("db_conn_down", "conn=listener reason=\"%s\"", why);
	else if (c->state != CONN_DOWN)
		log_warn("db_conn_down", "conn=%d reason=\"%s\"", c->index, why);
	if (c->ev) {
		event_free(c->ev);
		c->ev = NULL;
	}
	if (c->pg) {
		PQfinish(c->pg);
		c->pg = NULL;
	}
	c->pipeline = false;
	stmts_clear(c);
	c->sent_prepared = false;
	if (c->result) {
		PQclear(c->result);
		c->result = NULL;
	}
	c->state = CONN_DOWN;
	struct job *j = c->job;
	c->job = NULL;
	if (j) {
		j->cb(j->arg, NULL);
		job_free(j);
	}
	/* Capped so that service is back within about a second of PostgreSQL. */
	c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : 100;
	if (c->backoff_ms > 1000)
		c->backoff_ms = 1000;
	struct timeval tv = {c->backoff_ms / 1000, (c->backoff_ms % 1000) * 1000L};
	if (!c->retry || evtimer_add(c->retry, &tv) != 0)
		log_error("db_conn_down", "error=\"cannot schedule the reconnection\"");

	/* Nobody left to run queued work: answer it now rather than let clients hang. */
	if (!c->listener && !store_ready(c->st)) {
		struct store *st = c->st;
		while (st->head) {
			struct job *q = st->head;
			st->head = q->next;
			st->queued--;
			q->cb(q->arg, NULL);
			job_free(q);
		}
		st->tail = NULL;
	}
}

static void conn_start_connect(struct conn *c)
{
	const char *values[5];
	conn_values(c->st, values);
	c->pg = PQconnectStartParams(conn_keywords, values, 1);
	if (!c->pg || PQstatus(c->pg) == CONNECTION_BAD) {
		char why[256];
		conn_down(c, c->pg ? pq_first_line(c->pg, why, sizeof why) : "out of memory");
		return;
	}
	c->state = CONN_CONNECTING;
	/* the loop must never wait on this connection's socket */
	if (PQsetnonblocking(c->pg, 1) != 0) {
		conn_down(c, "cannot make the connection non-blocking");
		return;
	}
	conn_watch(c, EV_WRITE);
}

static void conn_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	conn_start_connect(arg);
}

static void listen_done(void *arg, PGresult *res)
{
	struct store *st = arg;
	if (store_result_failed(res)) {
		log_warn("db_listen", "result=failed");
		return;
	}
	/* Notifications sent while we were not listening are lost: the
	 * owner catches up (a full reconciliation). */
	if (st->listen_up)
		st->listen_up(st->notify_arg);
}

static void conn_send(struct conn *c, struct job *j);

static void conn_connected(struct conn *c)
{
	c->state = CONN_IDLE;
	c->backoff_ms = 0;
	if (c->listener)
		log_info("db_conn_up", "conn=listener");
	else
		log_info("db_conn_up", "conn=%d", c->index);
	if (!conn_watch(c, EV_READ | EV_PERSIST))
		return;
	if (c->listener) {
		struct job *j = calloc(1, sizeof *j);
		if (!j) {
			conn_down(c, "out of memory");
			return;
		}
		j->sql = c->st->listen_sql;
		j->cb = listen_done;
		j->arg = c->st;
		conn_send(c, j);
		return;
	}
	store_dispatch(c->st);
}

static void conn_poll_connect(struct conn *c)
{
	switch (PQconnectPoll(c->pg)) {
	case PGRES_POLLING_READING:
		conn_watch(c, EV_READ);
		break;
	case PGRES_POLLING_WRITING:
		conn_watch(c, EV_WRITE);
		break;
	case PGRES_POLLING_OK:
		conn_connected(c);
		break;
	default: {
		char why[256];
		conn_down(c, pq_first_line(c->pg, why, sizeof why));
		break;
	}
	}
}

/* Reads whatever arrived; finishes the job when libpq has all its results. */
static void conn_read(struct conn *c)
{
	if (!PQconsumeInput(c->pg)) {
		char why[256];
		conn_down(c, pq_first_line(c->pg, why, sizeof why));
		return;
	}
	while (c->state == CONN_BUSY && !PQisBusy(c->pg)) {
		PGresult *r = PQgetResult(c->pg);
		if (c->pipeline) {
			/* set_config, the statement, the sync, with NULL between
			 * them: the job ends at the sync; a statement skipped after an
			 * error (PIPELINE_ABORTED) does not hide that error */
			if (!r)
				continue;
			ExecStatusType s = PQresultStatus(r);
			if (c->parsing && s != PGRES_PIPELINE_SYNC) {
				/* the Parse's own result: the statement is ready, or
				 * never prepared again (its error is the job's) */
				struct stmt *st = c->parsing;
				c->parsing = NULL;
				if (s == PGRES_COMMAND_OK) {
					st->ready = true;
					PQclear(r);
					continue;
				}
				st->broken = true;
			}
			if (s != PGRES_PIPELINE_SYNC) {
				if (s == PGRES_PIPELINE_ABORTED) {
					PQclear(r);
				} else {
					if (c->result)
						PQclear(c->result);
					c->result = r;
				}
				continue;
			}
			PQclear(r);
			c->pipeline = false;
			PQexitPipelineMode(c->pg);
		} else if (r) {
			if (c->result)
				PQclear(c->result);
			c->result = r;
			continue;
		}
		struct job *j = c->job;
		PGresult *res = c->result;
		c->job = NULL;
		c->result = NULL;
		c->state = CONN_IDLE;
		c->parsing = NULL;
		if (c->sent_prepared && stmt_invalidated(res) && PQstatus(c->pg) == CONNECTION_OK) {
			/* every statement of this session is prepared again; the job
			 * runs again once, so its caller never sees it */
			log_warn("db_statements", "conn=%d result=invalidated statements=%d", c->index, c->nstmts);
			stmts_clear(c);
			if (!j->resent) {
				j->resent = true;
				PQclear(res);
				conn_send(c, j);
				continue;
			}
		}
		c->sent_prepared = false;
		if (PQstatus(c->pg) == CONNECTION_BAD) {
			j->cb(j->arg, NULL);
			if (res)
				PQclear(res);
			job_free(j);
			conn_down(c, "connection lost");
			return;
		}
		if (store_result_failed(res))
			metrics_db_error();
		j->cb(j->arg, res);
		if (res)
			PQclear(res);
		job_free(j);
	}
	PGnotify *n;
	while ((n = PQnotifies(c->pg)) != NULL) {
		if (c->st->notify && !store_own_backend(c->st, n->be_pid))
			c->st->notify(c->st->notify_arg, n->relname, n->extra);
		PQfreemem(n);
	}
	if (PQstatus(c->pg) == CONNECTION_BAD) {
		conn_down(c, "connection lost");
		return;
	}
	if (c->state == CONN_IDLE)
		store_dispatch(c->st);
}

static void conn_socket_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	switch (c->state) {
	case CONN_CONNECTING:
		conn_poll_connect(c);
		break;
	case CONN_BUSY:
		if (what & EV_WRITE) {
			int f = PQflush(c->pg);
			if (f < 0) {
				conn_down(c, "flush failed");
				return;
			}
			if (f == 0 && !conn_watch(c, EV_READ | EV_PERSIST))
				return;
		}
		if (what & EV_READ)
			conn_read(c);
		break;
	case CONN_IDLE:
		conn_read(c); /* a notification, or the server closing on us */
		break;
	case CONN_DOWN:
		break;
	}
}

/* Notifications caused by this instance's own writes: it already knows. */
static bool store_own_backend(const struct store *st, int pid)
{
	for (int i = 0; i < st->nconns; i++)
		if (st->conns[i].pg && PQbackendPID(st->conns[i].pg) == pid)
			return true;
	return false;
}

static void conn_send(struct conn *c, struct job *j)
{
	c->job = j;
	c->state = CONN_BUSY;
	c->parsing = NULL;
	c->sent_prepared = false;
	/* the listener's "LISTEN a; LISTEN b" needs the simple protocol */
	int sent;
	if (c->listener) {
		sent = PQsendQuery(c->pg, j->sql);
	} else if (j->timeout_ms > 0) {
		/* A longer (or shorter) statement_timeout for this statement only:
		 * set_config(..., true) and the statement in one pipeline, so one
		 * implicit transaction until the sync: the setting ends with it,
		 * and the server arms the statement's timer with it (a SET inside
		 * the statement itself would be too late: the timer is armed when
		 * the statement starts). */
		char ms[16];
		snprintf(ms, sizeof ms, "%d", j->timeout_ms);
		const char *v[1] = {ms};
		c->pipeline = true;
		sent = PQenterPipelineMode(c->pg) &&
		       PQsendQueryParams(c->pg, "SELECT set_config('statement_timeout', $1, true)", 1,
					 NULL, v, NULL, NULL, 0) &&
		       PQsendQueryParams(c->pg, j->sql, j->nparams, NULL,
					 (const char *const *)j->values, NULL, NULL, 0) &&
		       PQpipelineSync(c->pg);
	} else {
		struct stmt *s = stmt_for(c, j->sql);
		char name[16];
		if (s)
			snprintf(name, sizeof name, "s%u", s->name);
		c->sent_prepared = s != NULL;
		if (s && s->ready) {
			sent = PQsendQueryPrepared(c->pg, name, j->nparams, (const char *const *)j->values,
						   NULL, NULL, 0);
		} else if (s) {
			/* its first use here: Parse, then Bind and Execute, in one
			 * pipeline (one round trip, as an unnamed statement) */
			c->pipeline = true;
			c->parsing = s;
			sent = PQenterPipelineMode(c->pg) &&
			       PQsendPrepare(c->pg, name, j->sql, j->nparams, NULL) &&
			       PQsendQueryPrepared(c->pg, name, j->nparams, (const char *const *)j->values,
						   NULL, NULL, 0) &&
			       PQpipelineSync(c->pg);
		} else {
			sent = PQsendQueryParams(c->pg, j->sql, j->nparams, NULL,
						 (const char *const *)j->values, NULL, NULL, 0);
		}
	}
	if (!sent) {
		char why[256];
		conn_down(c, pq_first_line(c->pg, why, sizeof why));
		return;
	}
	int f = PQflush(c->pg);
	if (f < 0) {
		conn_down(c, "flush failed");
		return;
	}
	conn_watch(c, f == 1 ? EV_READ | EV_WRITE | EV_PERSIST : EV_READ | EV_PERSIST);
}

static void store_dispatch(struct store *st)
{
	for (int i = 0; i < st->nconns && st->head; i++) {
		struct conn *c = &st->conns[i];
		if (c->state != CONN_IDLE)
			continue;
		struct job *j = st->head;
		st->head = j->next;
		if (!st->head)
			st->tail = NULL;
		st->queued--;
		conn_send(c, j);
	}
}

void store_query(struct store *st, const char *sql, int nparams,
		 const char *const *values, store_cb cb, void *arg)
{
	store_query_timeout(st, sql, nparams, values, 0, cb, arg);
}

void store_query_timeout(struct store *st, const char *sql, int nparams,
			 const char *const *values, int timeout_ms, store_cb cb, void *arg)
{
	if (!store_ready(st)) {
		metrics_db_error();
		cb(arg, NULL);
		return;
	}
	size_t sqllen = strlen(sql) + 1;
	size_t size = sizeof(struct job) + (size_t)nparams * sizeof(char *) + sqllen;
	for (int i = 0; i < nparams; i++)
		if (values[i])
			size += strlen(values[i]) + 1;
	struct job *j = calloc(1, size);
	if (!j) {
		cb(arg, NULL);
		return;
	}
	j->nparams = nparams;
	j->values = (char **)(j + 1);
	char *p = (char *)(j->values + nparams);
	memcpy(p, sql, sqllen);
	j->sql = p;
	p += sqllen;
	for (int i = 0; i < nparams; i++) {
		if (!values[i])
			continue;
		size_t n = strlen(values[i]) + 1;
		memcpy(p, values[i], n);
		j->values[i] = p;
		p += n;
	}
	j->cb = cb;
	j->arg = arg;
	j->timeout_ms = timeout_ms;
	if (st->tail)
		st->tail->next = j;
	else
		st->head = j;
	st->tail = j;
	st->queued++;
	store_dispatch(st);
}

void store_prepare_statements(struct store *st, bool on)
{
	st->prepare = on;
}

bool store_ready(const struct store *st)
{
	if (st->closing)
		return false;
	for (int i = 0; i < st->nconns; i++)
		if (st->conns[i].state == CONN_IDLE || st->conns[i].state == CONN_BUSY)
			return true;
	return false;
}

int store_connections_up(const struct store *st)
{
	int n = 0;
	for (int i = 0; i < st->nconns; i++)
		n += st->conns[i].state == CONN_IDLE || st->conns[i].state == CONN_BUSY;
	return n;
}

int store_pending(const struct store *st)
{
	return st->queued;
}

struct store *store_new(struct event_base *base, const char *conninfo, int pool_size, const char *origin)
{
	struct store *st = calloc(1, sizeof *st);
	if (!st)
		return NULL;
	st->base = base;
	if (origin)
		snprintf(st->origin, sizeof st->origin, "%s", origin);
	st->conninfo = strdup(conninfo);
	st->nconns = pool_size;
	st->conns = calloc((size_t)pool_size, sizeof *st->conns);
	if (!st->conninfo || !st->conns) {
		free(st->conninfo);
		free(st->conns);
		free(st);
		return NULL;
	}
	for (int i = 0; i < pool_size; i++) {
		struct conn *c = &st->conns[i];
		c->st = st;
		c->index = i;
		c->retry = evtimer_new(base, conn_retry_cb, c);
		if (!c->retry) {
			store_free(st);
			return NULL;
		}
		/* The first connections are made before the loop runs, so a
		 * daemon that starts answers at once. */
		c->pg = connect_blocking(st);
		if (c->pg && PQsetnonblocking(c->pg, 1) == 0) {
			c->state = CONN_IDLE;
			conn_watch(c, EV_READ | EV_PERSIST); /* down and retrying if it cannot */
		} else {
			c->state = CONN_CONNECTING; /* so conn_down logs nothing twice */
			conn_down(c, "initial connection failed");
		}
	}
	return st;
}

void store_listen(struct store *st, const char *listen_sql, store_notify_cb notify,
		  store_up_cb up, void *arg)
{
	struct conn *c = &st->listener;
	free(st->listen_sql);
	st->listen_sql = strdup(listen_sql);
	st->notify = notify;
	st->listen_up = up;
	st->notify_arg = arg;
	c->st = st;
	c->index = -1;
	c->listener = true;
	c->retry = evtimer_new(st->base, conn_retry_cb, c);
	if (st->listen_sql && c->retry)
		conn_start_connect(c);
}

static void conn_close(struct conn *c)
{
	if (c->job) {
		c->job->cb(c->job->arg, NULL);
		job_free(c->job);
		c->job = NULL;
	}
	if (c->result)
		PQclear(c->result);
	if (c->ev)
		event_free(c->ev);
	if (c->retry)
		event_free(c->retry);
	if (c->pg)
		PQfinish(c->pg);
	stmts_clear(c);
	free(c->stmts);
	c->stmts = NULL;
	c->result = NULL;
	c->ev = c->retry = NULL;
	c->pg = NULL;
}

void store_free(struct store *st)
{
	if (!st)
		return;
	/* Callbacks below may queue follow-up work: it is answered at once. */
	st->closing = true;
	conn_close(&st->listener);
	free(st->listen_sql);
	for (int i = 0; i < st->nconns; i++) {
		struct conn *c = &st->conns[i];
		if (c->job) {
			c->job->cb(c->job->arg, NULL);
			job_free(c->job);
		}
		if (c->result)
			PQclear(c->result);
		if (c->ev)
			event_free(c->ev);
		if (c->retry)
			event_free(c->retry);
		if (c->pg)
			PQfinish(c->pg);
		stmts_clear(c);
		free(c->stmts);
	}
	while (st->head) {
		struct job *j = st->head;
		st->head = j->next;
		j->cb(j->arg, NULL);
		job_free(j);
	}
	free(st->conns);
	free(st->conninfo);
	free(st);
}

bool store_result_failed(const PGresult *res)
{
	if (!res)
		return true;
	ExecStatusType s = PQresultStatus(res);
	return s != PGRES_TUPLES_OK && s != PGRES_COMMAND_OK;
}
