/*
 * Argon2id in a worker thread (see password.h).
 */
#include "password.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <argon2.h>
#include <event2/event.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "app.h"
#include "log.h"

enum job_kind { JOB_HASH, JOB_VERIFY };

struct job {
	struct job *next;
	enum job_kind kind;
	uint32_t t_cost, m_cost, par;
	char password[PASSWORD_MAX_LEN + 1];
	char encoded[256];
	int result;
	password_cb cb;
	void *arg;
};

struct password {
	struct app *app;
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *head, *tail;   /* queued, under mu */
	bool stop;
	int pipe_rd, pipe_wr;      /* worker -> loop: finished job pointers */
	struct event *ev;
};

static void job_free(struct job *j)
{
	OPENSSL_cleanse(j->password, sizeof j->password);
	free(j);
}

static void run_job(struct job *j)
{
	if (j->kind == JOB_HASH) {
		unsigned char salt[16];
		if (RAND_bytes(salt, sizeof salt) != 1) {
			j->result = -1;
			return;
		}
		int rc = argon2id_hash_encoded(j->t_cost, j->m_cost, j->par, j->password, strlen(j->password),
					       salt, sizeof salt, 32, j->encoded, sizeof j->encoded);
		j->result = rc == ARGON2_OK ? 0 : -1;
	} else {
		int rc = argon2id_verify(j->encoded, j->password, strlen(j->password));
		j->result = rc == ARGON2_OK ? 1 : rc == ARGON2_VERIFY_MISMATCH ? 0 : -1;
		if (rc != ARGON2_OK && rc != ARGON2_VERIFY_MISMATCH)
			j->result = 0; /* a malformed stored hash never lets anyone in */
	}
}

static void *worker(void *arg)
{
	struct password *pw = arg;
	for (;;) {
		pthread_mutex_lock(&pw->mu);
		while (!pw->head && !pw->stop)
			pthread_cond_wait(&pw->cv, &pw->mu);
		struct job *j = pw->head;
		if (j) {
			pw->head = j->next;
			if (!pw->head)
				pw->tail = NULL;
		}
		pthread_mutex_unlock(&pw->mu);
		if (!j)
			return NULL; /* stop, and nothing queued */
		run_job(j);
		OPENSSL_cleanse(j->password, sizeof j->password);
		ssize_t n;
		do
			n = write(pw->pipe_wr, &j, sizeof j);
		while (n < 0 && errno == EINTR);
		if (n != (ssize_t)sizeof j)
			log_error("password", "event=result_lost");
	}
}

/* On the loop: finished jobs. */
static void on_results(evutil_socket_t fd, short what, void *arg)
{
	struct job *j;
	while (read(fd, &j, sizeof j) == (ssize_t)sizeof j) {
		j->cb(j->arg, j->result, j->result == 0 && j->kind == JOB_HASH ? j->encoded : NULL);
		OPENSSL_cleanse(j->encoded, sizeof j->encoded);
		job_free(j);
	}
}

struct password *password_new(struct app *app)
{
	struct password *pw = calloc(1, sizeof *pw);
	int fds[2];
	if (!pw)
		return NULL;
	pw->app = app;
	pthread_mutex_init(&pw->mu, NULL);
	pthread_cond_init(&pw->cv, NULL);
	pw->pipe_rd = pw->pipe_wr = -1;
	if (pipe(fds) != 0)
		goto fail;
	fcntl(fds[0], F_SETFD, FD_CLOEXEC);
	fcntl(fds[1], F_SETFD, FD_CLOEXEC);
	pw->pipe_rd = fds[0];
	pw->pipe_wr = fds[1];
	fcntl(pw->pipe_rd, F_SETFL, O_NONBLOCK);
	pw->ev = event_new(app->base, pw->pipe_rd, EV_READ | EV_PERSIST, on_results, pw);
	if (!pw->ev || event_add(pw->ev, NULL) != 0)
		goto fail;
	if (pthread_create(&pw->thread, NULL, worker, pw) != 0)
		goto fail;
	pw->started = true;
	return pw;
fail:
	password_free(pw);
	return NULL;
}

void password_free(struct password *pw)
{
	if (!pw)
		return;
	if (pw->started) {
		pthread_mutex_lock(&pw->mu);
		pw->stop = true;
		pthread_cond_signal(&pw->cv);
		pthread_mutex_unlock(&pw->mu);
		pthread_join(pw->thread, NULL);
		/* what finished after the loop stopped: answered as failures */
		struct job *j;
		while (read(pw->pipe_rd, &j, sizeof j) == (ssize_t)sizeof j) {
			j->cb(j->arg, -1, NULL);
			job_free(j);
		}
	}
	if (pw->ev)
		event_free(pw->ev);
	if (pw->pipe_rd >= 0)
		close(pw->pipe_rd);
	if (pw->pipe_wr >= 0)
		close(pw->pipe_wr);
	pthread_mutex_destroy(&pw->mu);
	pthread_cond_destroy(&pw->cv);
	free(pw);
}

static void submit(struct password *pw, enum job_kind kind, const char *encoded, const char *password,
		   password_cb cb, void *arg)
{
	struct job *j = calloc(1, sizeof *j);
	if (!j || strlen(password) > PASSWORD_MAX_LEN || (encoded && strlen(encoded) >= sizeof j->encoded)) {
		free(j);
		cb(arg, -1, NULL);
		return;
	}
	j->kind = kind;
	j->t_cost = (uint32_t)pw->app->cfg.argon2_t_cost;
	j->m_cost = (uint32_t)pw->app->cfg.argon2_m_cost_kib;
	j->par = (uint32_t)pw->app->cfg.argon2_parallelism;
	memcpy(j->password, password, strlen(password) + 1);
	if (encoded)
		memcpy(j->encoded, encoded, strlen(encoded) + 1);
	j->cb = cb;
	j->arg = arg;
	pthread_mutex_lock(&pw->mu);
	if (pw->tail)
		pw->tail->next = j;
	else
		pw->head = j;
	pw->tail = j;
	pthread_cond_signal(&pw->cv);
	pthread_mutex_unlock(&pw->mu);
}

void password_hash_async(struct password *pw, const char *password, password_cb cb, void *arg)
{
	submit(pw, JOB_HASH, NULL, password, cb, arg);
}

void password_verify_async(struct password *pw, const char *encoded, const char *password,
			   password_cb cb, void *arg)
{
	submit(pw, JOB_VERIFY, encoded, password, cb, arg);
}

/* Characters, not bytes: UTF-8 continuation bytes do not count. */
static size_t utf8_chars(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

const char *password_policy(int min_length, const char *password, const char *email)
{
	static char why[160];
	size_t n = strlen(password);
	if (utf8_chars(password) < (size_t)min_length) {
		snprintf(why, sizeof why, "Le mot de passe doit compter au moins %d caractères.", min_length);
		return why;
	}
	if (n > PASSWORD_MAX_LEN)
		return "Le mot de passe est trop long (256 octets au plus).";
	char lower[PASSWORD_MAX_LEN + 1];
	bool same = true;
	for (size_t i = 0; i <= n; i++) {
		lower[i] = (char)tolower((unsigned char)password[i]);
		if (i > 0 && i < n && password[i] != password[0])
			same = false;
	}
	if (same)
		return "Le mot de passe ne peut pas répéter un seul caractère.";
	for (const char *const *c = password_common; *c; c++)
		if (strcmp(lower, *c) == 0)
			return "Ce mot de passe fait partie des plus courants : choisissez-en un autre.";
	if (email) {
		const char *at = strchr(email, '@');
		size_t local = at ? (size_t)(at - email) : strlen(email);
		if (local >= 4) {
			char part[256];
			snprintf(part, sizeof part, "%.*s", (int)local, email);
			for (char *p = part; *p; p++)
				*p = (char)tolower((unsigned char)*p);
			if (strstr(lower, part))
				return "Le mot de passe ne doit pas contenir votre adresse e-mail.";
		}
	}
	OPENSSL_cleanse(lower, sizeof lower);
	return NULL;
}
