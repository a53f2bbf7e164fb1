/*
 * Standard Webhooks signatures (see signature.h), with OpenSSL's HMAC and
 * base64.
 */
#include "signature.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/rand.h>

int signature_secret_new(char out[SIGNATURE_SECRET_LEN + 1])
{
	unsigned char key[24];
	if (RAND_bytes(key, sizeof key) != 1)
		return -1;
	memcpy(out, "whsec_", sizeof "whsec_"); /* the NUL is overwritten below */
	EVP_EncodeBlock((unsigned char *)out + 6, key, sizeof key); /* 32 chars + NUL */
	return 0;
}

/* base64 → bytes; EVP_DecodeBlock counts padding as zero bytes, so the
 * real length is reduced by the number of '='. */
static int decode_key(const char *b64, unsigned char *key, size_t cap)
{
	size_t n = strlen(b64);
	if (n == 0 || n % 4 != 0 || (n / 4) * 3 > cap)
		return -1;
	int len = EVP_DecodeBlock(key, (const unsigned char *)b64, (int)n);
	if (len < 0)
		return -1;
	if (b64[n - 1] == '=')
		len--;
	if (b64[n - 2] == '=')
		len--;
	return len;
}

int signature_sign(const char *secret, const char *msg_id, long long timestamp,
		   const char *body, size_t body_len, char out[SIGNATURE_HEADER_MAX])
{
	if (strncmp(secret, "whsec_", 6) != 0)
		return -1;
	unsigned char key[96];
	int keylen = decode_key(secret + 6, key, sizeof key);
	if (keylen <= 0)
		return -1;
	char prefix[160];
	int plen = snprintf(prefix, sizeof prefix, "%s.%lld.", msg_id, timestamp);
	if (plen < 0 || (size_t)plen >= sizeof prefix)
		return -1;
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	/* HMAC over prefix then body, without copying the body */
	EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = hmac ? EVP_MAC_CTX_new(hmac) : NULL;
	OSSL_PARAM params[2] = {OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
				OSSL_PARAM_construct_end()};
	size_t outl = 0;
	int ok = ctx && EVP_MAC_init(ctx, key, (size_t)keylen, params) == 1 &&
		 EVP_MAC_update(ctx, (const unsigned char *)prefix, (size_t)plen) == 1 &&
		 EVP_MAC_update(ctx, (const unsigned char *)body, body_len) == 1 &&
		 EVP_MAC_final(ctx, mac, &outl, sizeof mac) == 1;
	maclen = (unsigned int)outl;
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(hmac);
	if (!ok || maclen != 32)
		return -1;
	memcpy(out, "v1,", sizeof "v1,"); /* the NUL is overwritten below */
	EVP_EncodeBlock((unsigned char *)out + 3, mac, (int)maclen); /* 44 chars + NUL */
	return 0;
}
