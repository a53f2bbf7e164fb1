/*
 * password: Argon2id hashing and verification, off the event loop. One
 * worker thread takes jobs from a queue; each result is posted back to the
 * loop through a pipe and its callback runs on the loop. The parameters
 * (argon2_t_cost, argon2_m_cost_kib, argon2_parallelism) are read from the
 * config when a job is submitted; a hash made with older parameters still
 * verifies (they are part of the encoded string).
 *
 * The policy: at least password_min_length characters, not in the list of
 * common passwords (password_list.c), not the e-mail's local part.
 */
#ifndef SIAOD_PASSWORD_H
#define SIAOD_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

struct app;
struct password;

#define PASSWORD_MAX_LEN 256

/* hash: result 0 and encoded set; verify: result 1 match, 0 mismatch;
 * -1: the job could not run (out of memory, shutting down). */
typedef void (*password_cb)(void *arg, int result, const char *encoded);

struct password *password_new(struct app *app);
/* Runs what is queued, then stops the thread; pending callbacks get -1. */
void password_free(struct password *pw);
void password_hash_async(struct password *pw, const char *password, password_cb cb, void *arg);
void password_verify_async(struct password *pw, const char *encoded, const char *password,
			   password_cb cb, void *arg);

/* NULL when acceptable, else a French sentence saying why not. */
const char *password_policy(int min_length, const char *password, const char *email);
/* The embedded list of common passwords (lowercase), NULL-terminated. */
extern const char *const password_common[];

#endif
