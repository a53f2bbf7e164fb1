/*
 * problem: an error's fields → the problem a client gets. The fields come
 * from a failed statement (problem_from_result) or, for the proposals of a
 * batch, from columns the SQL returns (problem_from_fields, where a field
 * that is not there is "", not NULL): both must give the same answer.
 */
#include "problem.h"
#include "unit.h"

static void our_own_problems(void)
{
	struct problem p;
	problem_from_fields("SI409", "no-free-place", "no place of this offer is free", "", "", &p);
	CHECK_INT(p.status, 409);
	CHECK_STR(p.slug, "no-free-place");
	CHECK_STR(p.detail, "no place of this offer is free");
	CHECK(p.extra == NULL && p.errors == NULL && !p.denied && !p.unexpected && p.retry_after == 0);
	problem_clear(&p);

	/* extra members and errors travel in the hint, as JSON */
	problem_from_fields("SI409", "open-placement-exists", "already open", "{\"placement_id\": 7}", NULL, &p);
	CHECK_INT(p.status, 409);
	CHECK_INT(json_integer_value(json_object_get(p.extra, "placement_id")), 7);
	CHECK(p.errors == NULL);
	problem_clear(&p);

	problem_from_fields("SI422", "invalid-field", "no such young person",
			    "{\"errors\": [{\"pointer\": \"/youth_id\", \"code\": \"unknown_value\", \"detail\": \"x\"}]}",
			    "", &p);
	CHECK_INT(p.status, 422);
	CHECK_INT(json_array_size(p.errors), 1);
	CHECK_STR(json_string_value(json_object_get(json_array_get(p.errors, 0), "pointer")), "/youth_id");
	CHECK(json_object_get(p.extra, "errors") == NULL);   /* moved to errors, not repeated */
	problem_clear(&p);

	/* a hint that is not an object adds nothing */
	problem_from_fields("SI400", "invalid-field", "bad", "[1, 2]", NULL, &p);
	CHECK(p.extra == NULL && p.errors == NULL);
	problem_clear(&p);

	/* a 403 of the database is audited */
	problem_from_fields("SI403", "forbidden", "outside this token's scope", "", "", &p);
	CHECK_INT(p.status, 403);
	CHECK(p.denied);
	problem_clear(&p);

	/* a status outside 4xx-5xx is an internal error */
	problem_from_fields("SI200", "odd", "", "", "", &p);
	CHECK_INT(p.status, 500);
	problem_clear(&p);
}

static void postgres_errors(void)
{
	struct problem p;
	/* a CHECK named ck_<table>__<field> points at the field */
	problem_from_fields("23514", "new row violates check constraint", "", "", "ck_placements__planned_end_date", &p);
	CHECK_INT(p.status, 400);
	CHECK_STR(p.slug, "invalid-field");
	CHECK_STR(json_string_value(json_object_get(json_array_get(p.errors, 0), "pointer")), "/planned_end_date");
	problem_clear(&p);
	/* no constraint name: "" from SQL is as NULL from libpq */
	struct problem q;
	problem_from_fields("23514", "violates", "", "", "", &p);
	problem_from_fields("23514", "violates", NULL, NULL, NULL, &q);
	CHECK_STR(p.detail, q.detail);
	CHECK(strstr(p.detail, "?") != NULL);
	problem_clear(&p);
	problem_clear(&q);

	const char *conflicts[] = {"23505", "23P01", "40001"};
	for (int i = 0; i < 3; i++) {
		problem_from_fields(conflicts[i], "conflict", "", "", "", &p);
		CHECK_INT(p.status, 409);
		CHECK_STR(p.slug, "conflict");
		problem_clear(&p);
	}
	problem_from_fields("57014", "canceling statement due to statement timeout", "", "", "", &p);
	CHECK_INT(p.status, 503);
	CHECK_INT(p.retry_after, 2);
	problem_clear(&p);
	problem_from_fields("22008", "date/time field value out of range", "", "", "", &p);
	CHECK_INT(p.status, 400);
	problem_clear(&p);
	problem_from_fields("XX000", "something", "", "", "", &p);
	CHECK_INT(p.status, 500);
	CHECK(p.unexpected);
	problem_clear(&p);
	/* no SQLSTATE at all */
	problem_from_fields(NULL, NULL, NULL, NULL, NULL, &p);
	CHECK_INT(p.status, 500);
	CHECK_STR(p.sqlstate, "XX000");
	problem_clear(&p);
	problem_from_fields("", "", "", "", "", &p);
	CHECK_STR(p.sqlstate, "XX000");
	problem_clear(&p);
}

static void no_database(void)
{
	struct problem p;
	problem_from_result(NULL, &p);
	CHECK_INT(p.status, 503);
	CHECK_STR(p.slug, "database-unavailable");
	CHECK_INT(p.retry_after, 2);
	problem_clear(&p);
}

int main(void)
{
	our_own_problems();
	postgres_errors();
	no_database();
	printf("%d checks, %d failures\n", unit_checks, unit_failures);
	return unit_failures != 0;
}
