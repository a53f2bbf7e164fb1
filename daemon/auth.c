/*
 * Bearer tokens and their cache (see auth.h).
 */
#include "auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "log.h"
#include "store.h"

#define AUTH_CACHE_MAX 4096

struct entry {
	unsigned char hash[32];
	int found;                 /* 1 known and usable, 0 unknown or revoked */
	struct principal p;
	int64_t expires_epoch;     /* 0 = never */
	time_t fetched;            /* monotonic seconds */
};

struct auth {
	struct store *st;
	struct entry *entries;
	int n;
};

struct lookup {
	struct auth *a;
	unsigned char hash[32];
	auth_cb cb;
	void *arg;
};

static time_t mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

const char *auth_role_name(enum role r)
{
	return r == ROLE_ADMIN ? "admin" : r == ROLE_REFERENT ? "referent" : "porteur";
}

int auth_role_parse(const char *s)
{
	if (!s)
		return -1;
	if (strcmp(s, "admin") == 0) return ROLE_ADMIN;
	if (strcmp(s, "referent") == 0) return ROLE_REFERENT;
	if (strcmp(s, "porteur") == 0) return ROLE_PORTEUR;
	return -1;
}

bool auth_has_departement(const struct principal *p, const char *dep)
{
	if (p->role == ROLE_ADMIN)
		return true;
	for (int i = 0; i < p->ndep; i++)
		if (strcmp(p->departements[i], dep) == 0)
			return true;
	return false;
}

void auth_hash(const char *token, unsigned char hash[32])
{
	unsigned int len = 32;
	EVP_Digest(token, strlen(token), hash, &len, EVP_sha256(), NULL);
}

void auth_hash_param(const unsigned char hash[32], char out[AUTH_HASH_PARAM_LEN])
{
	static const char hex[] = "0123456789abcdef";
	out[0] = '\\';
	out[1] = 'x';
	for (int i = 0; i < 32; i++) {
		out[2 + 2 * i] = hex[hash[i] >> 4];
		out[3 + 2 * i] = hex[hash[i] & 15];
	}
	out[66] = '\0';
}

int auth_token_generate(char token[AUTH_TOKEN_LEN + 1], unsigned char hash[32])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[20];
	if (RAND_bytes(raw, sizeof raw) != 1)
		return -1;
	memcpy(token, "siaod_", 6);
	for (int i = 0; i < 20; i++) {
		token[6 + 2 * i] = hex[raw[i] >> 4];
		token[7 + 2 * i] = hex[raw[i] & 15];
	}
	token[AUTH_TOKEN_LEN] = '\0';
	auth_hash(token, hash);
	return 0;
}

struct auth *auth_new(struct store *st)
{
	struct auth *a = calloc(1, sizeof *a);
	if (!a)
		return NULL;
	a->entries = calloc(AUTH_CACHE_MAX, sizeof *a->entries);
	if (!a->entries) {
		free(a);
		return NULL;
	}
	a->st = st;
	return a;
}

void auth_free(struct auth *a)
{
	if (!a)
		return;
	free(a->entries);
	free(a);
}

static struct entry *cache_find(struct auth *a, const unsigned char hash[32])
{
	for (int i = 0; i < a->n; i++)
		if (memcmp(a->entries[i].hash, hash, 32) == 0)
			return &a->entries[i];
	return NULL;
}

static struct entry *cache_slot(struct auth *a, const unsigned char hash[32])
{
	struct entry *e = cache_find(a, hash);
	if (e)
		return e;
	if (a->n < AUTH_CACHE_MAX)
		e = &a->entries[a->n++];
	else {
		/* Full (someone is trying many tokens): reuse the stalest entry. */
		e = &a->entries[0];
		for (int i = 1; i < a->n; i++)
			if (a->entries[i].fetched < e->fetched)
				e = &a->entries[i];
	}
	memset(e, 0, sizeof *e);
	memcpy(e->hash, hash, 32);
	return e;
}

static int entry_usable(const struct entry *e)
{
	if (!e->found)
		return 0;
	if (e->expires_epoch && e->expires_epoch <= (int64_t)time(NULL))
		return 0;
	return 1;
}

static void parse_departements(struct principal *p, const char *arr)
{
	/* PostgreSQL text[] output: {34,"2A"} */
	p->ndep = 0;
	const char *s = arr;
	while (*s && p->ndep < AUTH_MAX_DEPARTEMENTS) {
		while (*s == '{' || *s == ',' || *s == '"' || *s == '}')
			s++;
		size_t n = strcspn(s, ",\"}");
		if (n == 0)
			break;
		if (n < sizeof p->departements[0]) {
			memcpy(p->departements[p->ndep], s, n);
			p->departements[p->ndep][n] = '\0';
			p->ndep++;
		}
		s += n;
	}
}

static void lookup_done(void *arg, PGresult *res)
{
	struct lookup *l = arg;
	struct auth *a = l->a;
	if (store_result_failed(res)) {
		struct entry *stale = cache_find(a, l->hash);
		/* The database is away: a token we knew keeps working meanwhile. */
		if (stale && entry_usable(stale))
			l->cb(l->arg, 1, &stale->p);
		else
			l->cb(l->arg, -1, NULL);
		free(l);
		return;
	}
	struct entry *e = cache_slot(a, l->hash);
	e->fetched = mono_now();
	e->found = 0;
	/* columns by name: token_lookup's row may gain columns (sql/functions/tokens.sql) */
	int f_id = PQfnumber(res, "id"), f_role = PQfnumber(res, "role"),
	    f_deps = PQfnumber(res, "departements"), f_porteur = PQfnumber(res, "porteur_id"),
	    f_expires = PQfnumber(res, "expires_epoch"), f_revoked = PQfnumber(res, "revoked");
	if (f_id < 0 || f_role < 0 || f_deps < 0 || f_porteur < 0 || f_expires < 0 || f_revoked < 0)
		log_error("auth", "error=\"token_lookup lacks a column\"");
	else if (PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, f_revoked), "f") == 0) {
		/* A role this binary does not know (a newer schema, a hand-made row)
		 * is no role at all: cast to enum role, -1 would hold every bit and
		 * pass every route's role mask. */
		int role = auth_role_parse(PQgetvalue(res, 0, f_role));
		if (role < 0) {
			log_error("auth", "error=\"token with an unknown role\" token_id=%s",
				  PQgetvalue(res, 0, f_id));
			goto done;
		}
		e->found = 1;
		e->p.token_id = strtoll(PQgetvalue(res, 0, f_id), NULL, 10);
		e->p.role = (enum role)role;
		parse_departements(&e->p, PQgetvalue(res, 0, f_deps));
		e->p.porteur_id = PQgetisnull(res, 0, f_porteur) ? 0 : strtoll(PQgetvalue(res, 0, f_porteur), NULL, 10);
		e->expires_epoch = PQgetisnull(res, 0, f_expires) ? 0 : strtoll(PQgetvalue(res, 0, f_expires), NULL, 10);
		int f_account = PQfnumber(res, "account_id");
		e->p.account_id = f_account >= 0 && !PQgetisnull(res, 0, f_account)
				  ? strtoll(PQgetvalue(res, 0, f_account), NULL, 10) : 0;
	}
done:
	if (entry_usable(e))
		l->cb(l->arg, 1, &e->p);
	else
		l->cb(l->arg, 0, NULL);
	free(l);
}

void auth_resolve(struct auth *a, const char *token, auth_cb cb, void *arg)
{
	unsigned char hash[32];
	auth_hash(token, hash);
	struct entry *e = cache_find(a, hash);
	if (e && mono_now() - e->fetched < AUTH_CACHE_SECONDS) {
		if (entry_usable(e))
			cb(arg, 1, &e->p);
		else
			cb(arg, 0, NULL);
		return;
	}
	/* A malformed token cannot exist in the table: no round trip for it. */
	if (strlen(token) != AUTH_TOKEN_LEN || strncmp(token, "siaod_", 6) != 0) {
		cb(arg, 0, NULL);
		return;
	}
	struct lookup *l = malloc(sizeof *l);
	if (!l) {
		cb(arg, -1, NULL);
		return;
	}
	l->a = a;
	memcpy(l->hash, hash, 32);
	l->cb = cb;
	l->arg = arg;
	char param[67];
	auth_hash_param(hash, param);
	const char *values[1] = {param};
	store_query(a->st, "SELECT * FROM token_lookup($1::bytea)", 1, values, lookup_done, l);
}

void auth_forget(struct auth *a, int64_t token_id)
{
	for (int i = 0; i < a->n; i++)
		if (a->entries[i].found && a->entries[i].p.token_id == token_id) {
			a->entries[i] = a->entries[--a->n];
			i--;
		}
}

void auth_forget_account(struct auth *a, int64_t account_id)
{
	for (int i = 0; i < a->n; i++)
		if (a->entries[i].found && a->entries[i].p.account_id == account_id) {
			a->entries[i] = a->entries[--a->n];
			i--;
		}
}

int64_t auth_principal_key(const struct principal *p)
{
	return p->token_id > 0 ? p->token_id : -p->account_id;
}
