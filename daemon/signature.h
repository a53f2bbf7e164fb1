/*
 * signature: Standard Webhooks signing. The secret is "whsec_" + base64 of
 * the key; the signature of a message is
 *   v1,<base64 of HMAC-SHA256(key, "<webhook-id>.<webhook-timestamp>.<body>")>
 * computed over exactly the bytes sent. Pure: unit-tested against the
 * specification's published example.
 */
#ifndef SIAOD_SIGNATURE_H
#define SIAOD_SIGNATURE_H

#include <stddef.h>

#define SIGNATURE_SECRET_LEN 38      /* "whsec_" + 32 base64 characters (24 bytes) */
#define SIGNATURE_HEADER_MAX 64      /* "v1," + 44 base64 characters + NUL */

/* A new secret; -1 if the random source failed. */
int signature_secret_new(char out[SIGNATURE_SECRET_LEN + 1]);
/* Writes "v1,<base64>" into out; -1 for a malformed secret. */
int signature_sign(const char *secret, const char *msg_id, long long timestamp,
		   const char *body, size_t body_len, char out[SIGNATURE_HEADER_MAX]);

#endif
