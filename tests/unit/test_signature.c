/*
 * Standard Webhooks signatures against the specification's own example
 * (standard-webhooks spec, "Signature scheme" section and its reference
 * libraries' tests), and the shape of new secrets.
 */
#include <string.h>

#include "signature.h"
#include "unit.h"

static void test_spec_example(void)
{
	/* The example published with the specification. */
	const char *secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
	const char *id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
	const char *body = "{\"test\": 2432232314}";
	char sig[SIGNATURE_HEADER_MAX];
	CHECK_INT(signature_sign(secret, id, 1614265330LL, body, strlen(body), sig), 0);
	CHECK_STR(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

static void test_changes_change_the_signature(void)
{
	const char *secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
	char a[SIGNATURE_HEADER_MAX], b[SIGNATURE_HEADER_MAX];
	CHECK_INT(signature_sign(secret, "msg_1", 1, "{}", 2, a), 0);
	CHECK_INT(signature_sign(secret, "msg_1", 2, "{}", 2, b), 0);
	CHECK(strcmp(a, b) != 0);
	CHECK_INT(signature_sign(secret, "msg_2", 1, "{}", 2, b), 0);
	CHECK(strcmp(a, b) != 0);
	CHECK_INT(signature_sign(secret, "msg_1", 1, "{ }", 3, b), 0);
	CHECK(strcmp(a, b) != 0);
}

static void test_bad_secrets(void)
{
	char sig[SIGNATURE_HEADER_MAX];
	CHECK_INT(signature_sign("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "m", 1, "{}", 2, sig), -1);
	CHECK_INT(signature_sign("whsec_", "m", 1, "{}", 2, sig), -1);
	CHECK_INT(signature_sign("whsec_abc", "m", 1, "{}", 2, sig), -1);
}

static void test_new_secret(void)
{
	char s1[SIGNATURE_SECRET_LEN + 1], s2[SIGNATURE_SECRET_LEN + 1];
	CHECK_INT(signature_secret_new(s1), 0);
	CHECK_INT(signature_secret_new(s2), 0);
	CHECK_INT(strlen(s1), SIGNATURE_SECRET_LEN);
	CHECK(strncmp(s1, "whsec_", 6) == 0);
	CHECK(strcmp(s1, s2) != 0);
	char sig[SIGNATURE_HEADER_MAX];
	CHECK_INT(signature_sign(s1, "m", 1, "{}", 2, sig), 0);
	CHECK_INT(strlen(sig), 47);
}

int main(void)
{
	test_spec_example();
	test_changes_change_the_signature();
	test_bad_secrets();
	test_new_secret();
	return unit_done("test_signature");
}
