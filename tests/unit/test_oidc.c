/*
 * The pure parts of the OpenID Connect client (oidc.h): the checks of an ID
 * token's claims (OpenID Connect Core 3.1.3.7) and base64url, against the PKCE
 * specification's own example (RFC 7636, appendix B).
 */
#include <string.h>
#include <time.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "oidc.h"
#include "unit.h"

#define ISS "https://auth.example.gouv.fr/api/v2"
#define CLIENT "siaod-client"
#define NONCE "n-0S6_WzA2Mj"
#define NOW 1700000000

/* A good ID token's claims, then one member changed (or removed: NULL). */
static json_t *claims(const char *member, json_t *value)
{
	json_t *c = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "iss", ISS, "sub", "abc-123", "aud", CLIENT,
			      "nonce", NONCE, "exp", (json_int_t)NOW + 300, "iat", (json_int_t)NOW - 5);
	if (member) {
		if (value)
			json_object_set_new(c, member, value);
		else
			json_object_del(c, member);
	}
	return c;
}

static const char *check(const char *member, json_t *value)
{
	json_t *c = claims(member, value);
	const char *why = oidc_check_id_token(c, ISS, CLIENT, NONCE, NOW);
	json_decref(c);
	return why;
}

static void test_good_token(void)
{
	CHECK(check(NULL, NULL) == NULL);
	/* aud as an array naming us alone; with several, azp must be us */
	CHECK(check("aud", json_pack("[s]", CLIENT)) == NULL);
	json_t *c = claims("aud", json_pack("[s, s]", CLIENT, "other"));
	CHECK_STR(oidc_check_id_token(c, ISS, CLIENT, NONCE, NOW), "wrong_azp");
	json_object_set_new(c, "azp", json_string(CLIENT));
	CHECK(oidc_check_id_token(c, ISS, CLIENT, NONCE, NOW) == NULL);
	json_decref(c);
	/* a clock a little behind or ahead (60 s) */
	CHECK(check("exp", json_integer(NOW - 30)) == NULL);
	CHECK(check("iat", json_integer(NOW + 30)) == NULL);
}

static void test_each_claim_refused(void)
{
	CHECK_STR(check("iss", json_string(ISS "/")), "wrong_iss");
	CHECK_STR(check("iss", NULL), "wrong_iss");
	CHECK_STR(check("aud", json_string("someone-else")), "wrong_aud");
	CHECK_STR(check("aud", json_pack("[s]", "someone-else")), "wrong_aud");
	CHECK_STR(check("aud", NULL), "wrong_aud");
	CHECK_STR(check("azp", json_string("someone-else")), "wrong_azp");
	CHECK_STR(check("exp", json_integer(NOW - 61)), "expired");
	CHECK_STR(check("exp", json_string("2099-01-01")), "expired");
	CHECK_STR(check("exp", NULL), "expired");
	CHECK_STR(check("iat", json_integer(NOW + 61)), "bad_iat");
	CHECK_STR(check("iat", json_integer(NOW - 3600)), "bad_iat");
	CHECK_STR(check("iat", NULL), "bad_iat");
	CHECK_STR(check("nonce", json_string("n-0S6_WzA2Mk")), "wrong_nonce");
	CHECK_STR(check("nonce", json_string(NONCE "x")), "wrong_nonce");
	CHECK_STR(check("nonce", NULL), "wrong_nonce");
	CHECK_STR(check("sub", json_string("")), "no_sub");
	CHECK_STR(check("sub", NULL), "no_sub");
	/* no nonce was sent: nothing can match */
	json_t *c = claims(NULL, NULL);
	CHECK_STR(oidc_check_id_token(c, ISS, CLIENT, NULL, NOW), "wrong_nonce");
	/* the issuer is unknown (discovery lost): nothing passes */
	CHECK_STR(oidc_check_id_token(c, NULL, CLIENT, NONCE, NOW), "wrong_iss");
	json_decref(c);
}

static void test_pkce_s256_example(void)
{
	/* RFC 7636 appendix B */
	const char *verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
	unsigned char md[32];
	unsigned int n = sizeof md;
	char challenge[48];
	CHECK(EVP_Digest(verifier, strlen(verifier), md, &n, EVP_sha256(), NULL) == 1);
	oidc_b64url(md, n, challenge, sizeof challenge);
	CHECK_STR(challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
	/* too small an output is left empty, never overrun */
	char tiny[8] = "x";
	oidc_b64url(md, n, tiny, sizeof tiny);
	CHECK_STR(tiny, "");
	/* the base64 alphabet's last two characters become - and _ */
	const unsigned char ff[3] = {0xfb, 0xff, 0xbf};
	char out[8];
	oidc_b64url(ff, 3, out, sizeof out);
	CHECK_STR(out, "-_-_");
}

int main(void)
{
	test_good_token();
	test_each_claim_refused();
	test_pkce_s256_example();
	return unit_done("test_oidc");
}
