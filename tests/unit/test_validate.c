/*
 * validate: each error code of the contract, with its JSON pointer.
 */
#include <string.h>

#include "unit.h"
#include "validate.h"

static const char *const colours[] = {"red", "green", NULL};

static const struct vfield fields[] = {
	{"name", V_STRING, true, false, 1, 5, NULL, false},
	{"n", V_INT, false, false, 0, 10, NULL, false},
	{"x", V_NUMBER, false, false, -1, 1, NULL, false},
	{"b", V_BOOL, false, false, 0, 0, NULL, false},
	{"d", V_DATE, false, true, 0, 0, NULL, false},
	{"ts", V_TIMESTAMP, false, false, 0, 0, NULL, false},
	{"colour", V_ENUM, false, false, 0, 0, colours, false},
	{"dep", V_DEPARTEMENT, false, false, 0, 0, NULL, false},
	{"insee", V_INSEE, false, false, 0, 0, NULL, false},
	{"deps", V_DEPARTEMENTS, false, false, 0, 3, NULL, false},
	{"colours", V_ENUM_ARRAY, false, false, 0, 2, colours, false},
	{"fixed", V_INT, false, false, 0, 10, NULL, true},
};
#define N (sizeof fields / sizeof *fields)

/* Validates text and returns "pointer code" of the only error, or "ok". */
static const char *one(const char *text, enum vmode mode)
{
	static char out[160];
	json_t *obj = json_loads(text, JSON_DECODE_ANY, NULL);
	json_t *errs = validate_object(obj, fields, N, mode);
	if (!errs)
		snprintf(out, sizeof out, "ok");
	else if (json_array_size(errs) != 1)
		snprintf(out, sizeof out, "%zu errors", json_array_size(errs));
	else
		snprintf(out, sizeof out, "%s %s",
			 json_string_value(json_object_get(json_array_get(errs, 0), "pointer")),
			 json_string_value(json_object_get(json_array_get(errs, 0), "code")));
	json_decref(errs);
	json_decref(obj);
	return out;
}

static void test_codes(void)
{
	CHECK_STR(one("{\"name\":\"ab\"}", V_CREATE), "ok");
	CHECK_STR(one("{}", V_CREATE), "/name required");
	CHECK_STR(one("{}", V_PATCH), "ok");
	CHECK_STR(one("[1]", V_CREATE), " not_an_object");
	CHECK_STR(one("{\"name\":3}", V_CREATE), "/name wrong_type");
	CHECK_STR(one("{\"name\":\"\"}", V_CREATE), "/name out_of_range");
	CHECK_STR(one("{\"name\":\"abcdef\"}", V_CREATE), "/name too_long");
	/* five characters of two bytes each are still five characters */
	CHECK_STR(one("{\"name\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"}", V_CREATE), "ok");
	CHECK_STR(one("{\"name\":\"a\",\"n\":11}", V_CREATE), "/n out_of_range");
	CHECK_STR(one("{\"name\":\"a\",\"n\":-1}", V_CREATE), "/n out_of_range");
	CHECK_STR(one("{\"name\":\"a\",\"n\":10}", V_CREATE), "ok");
	CHECK_STR(one("{\"name\":\"a\",\"n\":1.5}", V_CREATE), "/n wrong_type");
	CHECK_STR(one("{\"name\":\"a\",\"n\":\"1\"}", V_CREATE), "/n wrong_type");
	CHECK_STR(one("{\"name\":\"a\",\"x\":1}", V_CREATE), "ok");
	CHECK_STR(one("{\"name\":\"a\",\"x\":1.01}", V_CREATE), "/x out_of_range");
	CHECK_STR(one("{\"name\":\"a\",\"b\":1}", V_CREATE), "/b wrong_type");
	CHECK_STR(one("{\"name\":\"a\",\"b\":null}", V_CREATE), "/b wrong_type");
	CHECK_STR(one("{\"b\":null}", V_PATCH), "/b required");
	CHECK_STR(one("{\"d\":null}", V_PATCH), "ok");
	CHECK_STR(one("{\"d\":\"2024-02-29\"}", V_PATCH), "ok");
	CHECK_STR(one("{\"d\":\"2023-02-29\"}", V_PATCH), "/d out_of_range");
	CHECK_STR(one("{\"d\":\"2023-2-1\"}", V_PATCH), "/d wrong_type");
	CHECK_STR(one("{\"ts\":\"2026-01-02T03:04:05Z\"}", V_PATCH), "ok");
	CHECK_STR(one("{\"ts\":\"2026-01-02T03:04:05.123+01:00\"}", V_PATCH), "ok");
	CHECK_STR(one("{\"ts\":\"2026-01-02\"}", V_PATCH), "/ts wrong_type");
	CHECK_STR(one("{\"ts\":\"2026-01-02T25:00Z\"}", V_PATCH), "/ts wrong_type");
	CHECK_STR(one("{\"colour\":\"blue\"}", V_PATCH), "/colour unknown_value");
	CHECK_STR(one("{\"dep\":\"2A\"}", V_PATCH), "ok");
	CHECK_STR(one("{\"dep\":\"971\"}", V_PATCH), "ok");
	CHECK_STR(one("{\"dep\":\"20\"}", V_PATCH), "/dep unknown_value");
	CHECK_STR(one("{\"dep\":\"977\"}", V_PATCH), "/dep unknown_value");
	CHECK_STR(one("{\"dep\":\"975\"}", V_PATCH), "/dep unknown_value");
	CHECK_STR(one("{\"dep\":\"96\"}", V_PATCH), "/dep unknown_value");
	CHECK_STR(one("{\"dep\":\"00\"}", V_PATCH), "/dep unknown_value");
	CHECK_STR(one("{\"dep\":\"95\"}", V_PATCH), "ok");
	CHECK_STR(one("{\"dep\":\"976\"}", V_PATCH), "ok");
	CHECK_STR(one("{\"insee\":\"2A004\"}", V_PATCH), "ok");
	CHECK_STR(one("{\"insee\":\"3430\"}", V_PATCH), "/insee unknown_value");
	CHECK_STR(one("{\"deps\":[\"34\",\"30\"]}", V_PATCH), "ok");
	CHECK_STR(one("{\"deps\":[\"34\",\"xx\"]}", V_PATCH), "/deps/1 unknown_value");
	CHECK_STR(one("{\"deps\":[\"34\",\"34\"]}", V_PATCH), "/deps/1 unknown_value");
	CHECK_STR(one("{\"deps\":[\"1\",\"2\",\"3\",\"4\"]}", V_PATCH), "/deps too_long");
	CHECK_STR(one("{\"deps\":\"34\"}", V_PATCH), "/deps wrong_type");
	CHECK_STR(one("{\"colours\":[\"red\",\"pink\"]}", V_PATCH), "/colours/1 unknown_value");
	CHECK_STR(one("{\"zzz\":1}", V_PATCH), "/zzz unknown_field");
	CHECK_STR(one("{\"a/b~c\":1}", V_PATCH), "/a~1b~0c unknown_field");
	CHECK_STR(one("{\"fixed\":1}", V_CREATE), "/name required");
	CHECK_STR(one("{\"fixed\":1}", V_PATCH), "/fixed unknown_field");
	/* every problem at once */
	CHECK_STR(one("{\"n\":\"x\",\"colour\":1,\"zzz\":0}", V_CREATE), "4 errors");
}

int main(void)
{
	test_codes();
	return unit_done("test_validate");
}
