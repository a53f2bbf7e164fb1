/*
 * Idempotency-Key records through the store (see idempotency.h).
 */
#include "idempotency.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>

#include "auth.h"
#include "log.h"
#include "store.h"

bool idem_key_valid(const char *key)
{
	size_t n = key ? strlen(key) : 0;
	if (n == 0 || n > 255)
		return false;
	for (size_t i = 0; i < n; i++)
		if (key[i] <= 0x20 || key[i] >= 0x7f)
			return false;
	return true;
}

struct claim {
	idem_claim_cb cb;
	void *arg;
};

static void claimed(void *arg, PGresult *res)
{
	struct claim c = *(struct claim *)arg;
	free(arg);
	/* idem_begin's columns, by name (sql/functions/idempotency.sql) */
	int f_state = PQfnumber(res, "state"), f_status = PQfnumber(res, "status"),
	    f_response = PQfnumber(res, "response");
	if (store_result_failed(res) || PQntuples(res) != 1 || f_state < 0 || f_status < 0 || f_response < 0) {
		c.cb(c.arg, IDEM_ERROR, 0, NULL, (const struct pg_result *)res);
		return;
	}
	const char *state = PQgetvalue(res, 0, f_state);
	if (strcmp(state, "new") == 0)
		c.cb(c.arg, IDEM_NEW, 0, NULL, NULL);
	else if (strcmp(state, "replay") == 0)
		c.cb(c.arg, IDEM_REPLAY, (int)strtol(PQgetvalue(res, 0, f_status), NULL, 10), PQgetvalue(res, 0, f_response), NULL);
	else if (strcmp(state, "running") == 0)
		c.cb(c.arg, IDEM_RUNNING, 0, NULL, NULL);
	else
		c.cb(c.arg, IDEM_REUSED, 0, NULL, NULL);
}

void idem_claim(struct store *st, int64_t token_id, const char *key, const unsigned char hash[32],
		idem_claim_cb cb, void *arg)
{
	char token[24], h[AUTH_HASH_PARAM_LEN];
	struct claim *c = malloc(sizeof *c);
	if (!c) {
		cb(arg, IDEM_ERROR, 0, NULL, NULL);
		return;
	}
	*c = (struct claim){cb, arg};
	snprintf(token, sizeof token, "%lld", (long long)token_id);
	auth_hash_param(hash, h);
	const char *values[3] = {token, key, h};
	store_query(st, "SELECT * FROM idem_begin($1::bigint, $2, $3::bytea)", 3, values, claimed, c);
}

struct keep {
	idem_done_cb done;
	void *arg;
};

static void kept(void *arg, PGresult *res)
{
	struct keep k = *(struct keep *)arg;
	free(arg);
	if (store_result_failed(res))
		log_warn("idempotency", "result=not_stored");
	if (k.done)
		k.done(k.arg);
}

void idem_keep(struct store *st, int64_t token_id, const char *key, int status, const char *body,
	       idem_done_cb done, void *arg)
{
	char token[24], sts[8];
	struct keep *k = malloc(sizeof *k);
	if (!k) {
		if (done)
			done(arg);
		return;
	}
	*k = (struct keep){done, arg};
	snprintf(token, sizeof token, "%lld", (long long)token_id);
	snprintf(sts, sizeof sts, "%d", status);
	const char *values[4] = {token, key, sts, body ? body : "{}"};
	store_query(st, "SELECT idem_store_text($1::bigint, $2, $3::integer, $4)", 4, values, kept, k);
}

struct answer {
	idem_answer_cb cb;
	void *arg;
};

static void answered(void *arg, PGresult *res)
{
	struct answer a = *(struct answer *)arg;
	free(arg);
	/* idem_answer's columns, by name (sql/functions/idempotency.sql) */
	int f_state = PQfnumber(res, "state"), f_status = PQfnumber(res, "status"),
	    f_response = PQfnumber(res, "response");
	if (store_result_failed(res) || PQntuples(res) != 1 || f_state < 0 || f_status < 0 || f_response < 0) {
		log_warn("idempotency", "result=not_stored");
		a.cb(a.arg, IDEM_ERROR, 0, NULL);
		return;
	}
	const char *state = PQgetvalue(res, 0, f_state);
	if (strcmp(state, "stored") == 0)
		a.cb(a.arg, IDEM_NEW, 0, NULL);
	else if (strcmp(state, "replay") == 0)
		a.cb(a.arg, IDEM_REPLAY, (int)strtol(PQgetvalue(res, 0, f_status), NULL, 10),
		     PQgetvalue(res, 0, f_response));
	else if (strcmp(state, "running") == 0)
		a.cb(a.arg, IDEM_RUNNING, 0, NULL);
	else
		a.cb(a.arg, IDEM_REUSED, 0, NULL);
}

void idem_answer(struct store *st, int64_t token_id, const char *key, const unsigned char hash[32],
		 int status, const char *body, idem_answer_cb cb, void *arg)
{
	char token[24], sts[8], h[AUTH_HASH_PARAM_LEN];
	struct answer *a = malloc(sizeof *a);
	if (!a) {
		cb(arg, IDEM_ERROR, 0, NULL);
		return;
	}
	*a = (struct answer){cb, arg};
	snprintf(token, sizeof token, "%lld", (long long)token_id);
	snprintf(sts, sizeof sts, "%d", status);
	auth_hash_param(hash, h);
	const char *values[5] = {token, key, h, sts, body ? body : "{}"};
	store_query(st, "SELECT * FROM idem_answer($1::bigint, $2, $3::bytea, $4::integer, $5)", 5, values,
		    answered, a);
}

static void abandoned(void *arg, PGresult *res)
{
	if (store_result_failed(res))
		log_warn("idempotency", "result=not_released");
}

void idem_abandon(struct store *st, int64_t token_id, const char *key)
{
	char token[24];
	snprintf(token, sizeof token, "%lld", (long long)token_id);
	const char *values[2] = {token, key};
	store_query(st, "SELECT idem_abandon($1::bigint, $2)", 2, values, abandoned, NULL);
}

bool idem_wrap_statement(const char *sql, int nparams, char *out, size_t size)
{
	int n = snprintf(out, size, "SELECT idem_store($%d::bigint, $%d, $%d::integer, (%s))",
			 nparams + 1, nparams + 2, nparams + 3, sql);
	return n > 0 && (size_t)n < size;
}
