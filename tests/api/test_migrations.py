"""
Migrations and the API functions (sql/README.md): numbered migrations hold the
schema, sql/functions/*.sql are loaded into schema api, re-loaded only when
their checksums change, with no stale public copy or overload left; a
database migrated by the previous release (migrations up to 012, API
functions in public) upgrades cleanly; a database newer than the binary is
refused with a clear message.

What is expected is computed from the source tree (file names, SHA-256 of the
files, the functions the daemon's C code calls), never from siaod itself.
"""
import glob
import hashlib
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Database, Daemon, expect, run_all, test  # noqa: E402

SQL = os.path.join(harness.SOURCE_DIR, "sql")
FUNCTION_FILES = sorted(glob.glob(os.path.join(SQL, "functions", "*.sql")))
# The last migration of the previous release, whose API functions lived in public.
PREVIOUS_RELEASE = 12


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def defined_functions():
    """Names of the functions sql/functions/*.sql define."""
    names = set()
    for path in FUNCTION_FILES:
        with open(path) as f:
            names |= set(re.findall(r"^CREATE FUNCTION ([a-z_]+)\(", f.read(), re.M))
    return names


def called_by_daemon():
    """Functions the daemon's SQL calls: `SELECT name(` / `FROM name(` in daemon/*.c
    whose name sql/functions defines or a migration creates."""
    text = ""
    for path in glob.glob(os.path.join(harness.SOURCE_DIR, "daemon", "*.c")):
        with open(path) as f:
            text += f.read()
    return {n for n in re.findall(r"\b([a-z_]+)\(\$1", text)}


def migrate(db, check=True, extra_env=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIAOD_")}
    env["SIAOD_DATABASE_URL"] = db.url
    env.update(extra_env or {})
    p = subprocess.run([harness.BIN, "migrate"], env=env, capture_output=True, text=True, timeout=120)
    harness.scan_for_sanitizer(p.stderr, "siaod migrate")
    if check and p.returncode != 0:
        raise AssertionError("siaod migrate exited with %d:\n%s" % (p.returncode, p.stderr))
    return p


def functions_in(db, schema):
    return set(db.sql("SELECT proname FROM pg_proc WHERE pronamespace = '%s'::regnamespace" % schema))


def as_previous_release(db, last=PREVIOUS_RELEASE):
    """Brings db to what the previous release's binary left: migrations 001..012
    (or ..last) applied in order, each with its checksum in schema_migrations
    (what daemon/migrate.c of that release did, here with psql), the communes loaded."""
    db.sql("CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, "
           "checksum text, applied_at timestamptz NOT NULL DEFAULT now())")
    for path in sorted(glob.glob(os.path.join(SQL, "[0-9][0-9][0-9]_*.sql"))):
        name = os.path.basename(path)
        version = int(name[:3])
        if version > last:
            break
        with open(path) as f:
            text = f.read()
        script = ["\\set ON_ERROR_STOP 1", "BEGIN;", "\\i " + path]
        for m in re.finditer(r"^-- siaod:copy (.+) FROM (\S+)$", text, re.M):
            script.append("\\copy %s FROM '%s' WITH (FORMAT csv, HEADER true)"
                          % (m.group(1), os.path.join(SQL, "data", m.group(2))))
        script.append("INSERT INTO schema_migrations (version, name, checksum) VALUES (%d, '%s', '%s');"
                      % (version, name, sha256(path)))
        script.append("COMMIT;")
        p = subprocess.run(["psql", "-X", "-q", "-d", db.url], input="\n".join(script) + "\n",
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, "psql on %s: %s" % (name, p.stderr)


@test
def function_files_are_embedded_and_distinct():
    assert len(FUNCTION_FILES) >= 10, FUNCTION_FILES
    names = []
    for path in FUNCTION_FILES:
        with open(path) as f:
            names += re.findall(r"^CREATE FUNCTION ([a-z_]+)\(", f.read(), re.M)
    dup = sorted({n for n in names if names.count(n) > 1})
    assert not dup, "defined more than once in sql/functions: %s" % dup
    # and no numbered migration after the move defines an API function again
    for path in sorted(glob.glob(os.path.join(SQL, "[0-9][0-9][0-9]_*.sql"))):
        if int(os.path.basename(path)[:3]) <= 16:
            continue
        with open(path) as f:
            again = set(re.findall(r"^CREATE (?:OR REPLACE )?FUNCTION ([a-z_]+)\(", f.read(), re.M)) & set(names)
        assert not again, "%s defines API functions %s: they belong in sql/functions" % (path, again)


@test
def fresh_database():
    db = Database("mig_fresh")
    p = migrate(db)
    assert "functions_loaded=%d" % len(FUNCTION_FILES) in p.stderr, p.stderr
    api = functions_in(db, "api")
    assert api == defined_functions(), (sorted(api ^ defined_functions()))
    public = functions_in(db, "public")
    assert not (api & public), "public copies of API functions: %s" % sorted(api & public)
    # what the daemon calls is in api; what constraints, indexes and triggers use stays in public
    missing = {f for f in called_by_daemon() if f not in api and f not in public}
    assert not missing, missing
    for f in ("departement_valid", "fold_name", "notify_inventory", "placements_emit", "offers_emit",
              "outbox_emit"):
        assert f in public, f
    # the migrations' objects are in public, never in api (whose search_path comes first)
    assert db.sql("SELECT count(*) FROM pg_class WHERE relnamespace = 'api'::regnamespace") == ["0"]
    assert db.sql("SELECT to_regclass('public.schema_migrations') IS NOT NULL, "
                  "to_regclass('public.schema_functions') IS NOT NULL") == ["t|t"]
    want = sorted("%s|%s" % (os.path.basename(f), sha256(f)) for f in FUNCTION_FILES)
    assert db.sql("SELECT file, checksum FROM schema_functions ORDER BY file") == want
    # and the daemon serves from it
    d = Daemon(db, name="fresh")
    admin = d.token("admin")
    por = expect(d.call("POST", "/v1/porteurs", admin, {"name": "Frais", "departement": "34"}), 201).json
    expect(d.call("POST", "/v1/offers", admin, {"porteur_id": por["id"], "kind": "alt", "label": "A",
                                                "commune_insee": "34172", "capacity": 1}), 201)
    d.stop()


@test
def reloaded_only_when_changed_and_nothing_stale_survives():
    db = Database("mig_reload")
    migrate(db)
    first = db.sql("SELECT file, applied_at FROM schema_functions ORDER BY file")
    p = migrate(db)
    assert "functions_loaded" not in p.stderr, p.stderr
    assert db.sql("SELECT file, applied_at FROM schema_functions ORDER BY file") == first
    # A function left in api by someone (or an old file) and a changed checksum:
    # the reload drops the whole schema, so the stray function is gone.
    db.sql("CREATE FUNCTION api.stray() RETURNS integer LANGUAGE sql AS 'SELECT 1'")
    db.sql("UPDATE schema_functions SET checksum = 'x' WHERE file = 'offers.sql'")
    p = migrate(db)
    assert "functions_loaded=%d" % len(FUNCTION_FILES) in p.stderr, p.stderr
    assert "stray" not in functions_in(db, "api")
    assert db.sql("SELECT checksum FROM schema_functions WHERE file = 'offers.sql'") == \
        [sha256(os.path.join(SQL, "functions", "offers.sql"))]
    # A public copy, with another signature, of an API function (what a migration
    # written before the move re-creates): dropped, even with unchanged files.
    db.sql("CREATE FUNCTION public.offer_json(bigint) RETURNS jsonb LANGUAGE sql AS 'SELECT NULL::jsonb'")
    p = migrate(db)
    assert 'dropped_public_copy="offer_json(bigint)"' in p.stderr, p.stderr
    assert "offer_json" not in functions_in(db, "public")
    assert "offer_json" in functions_in(db, "api")


@test
def nothing_outside_api_may_depend_on_it():
    db = Database("mig_dep")
    migrate(db)
    db.sql("CREATE VIEW public.free_today AS SELECT id, api.offer_free_places(id, date '2026-01-01') AS n FROM offers")
    db.sql("UPDATE schema_functions SET checksum = 'x' WHERE file = 'offers.sql'")
    p = migrate(db, check=False)
    assert p.returncode != 0, p.stderr
    assert "view free_today" in p.stderr and "offer_free_places" in p.stderr and "migration" in p.stderr, p.stderr
    # rolled back: the view and the functions are still there
    assert db.sql("SELECT count(*) >= 0 FROM free_today") == ["t"]
    assert "offer_free_places" in functions_in(db, "api")
    db.sql("DROP VIEW free_today")
    migrate(db)


@test
def refuses_a_database_newer_than_it_knows():
    db = Database("mig_newer")
    migrate(db)
    db.sql("INSERT INTO schema_migrations (version, name, checksum) VALUES (999, '999_from_the_future.sql', 'x')")
    before = db.sql("SELECT file, applied_at FROM schema_functions ORDER BY file")
    p = migrate(db, check=False)
    assert p.returncode != 0, p.stderr
    assert "999_from_the_future.sql" in p.stderr and "newer siaod" in p.stderr, p.stderr
    # nothing was re-loaded on the newer database
    assert db.sql("SELECT file, applied_at FROM schema_functions ORDER BY file") == before
    # serving refuses too
    d = Daemon(db, name="newer", start=False)
    try:
        d.start(timeout=10)
        raise AssertionError("siaod started on a newer database")
    except AssertionError as e:
        assert "exited with" in str(e) and "newer siaod" in d.log_text(), (str(e), d.log_tail())


@test
def upgrade_from_the_previous_release():
    db = Database("mig_upgrade")
    as_previous_release(db)
    # The previous release's API functions were in public; write through them.
    assert "porteur_create" in functions_in(db, "public")
    actor = "'{\"role\": \"admin\", \"token_id\": null}'::jsonb"
    pid = db.sql("SELECT porteur_create('{\"name\": \"Ancien\", \"departement\": \"30\"}'::jsonb, %s)->>'id'"
                 % actor)[0]
    p = migrate(db)
    assert "applied=016_functions_schema.sql" in p.stderr, p.stderr
    applied = db.sql("SELECT version FROM schema_migrations ORDER BY version")
    assert [int(v) for v in applied] == sorted(int(os.path.basename(f)[:3]) for f in
                                                glob.glob(os.path.join(SQL, "[0-9][0-9][0-9]_*.sql")))
    api, public = functions_in(db, "api"), functions_in(db, "public")
    assert api == defined_functions()
    assert not (api & public), "public copies left: %s" % sorted(api & public)
    # the data and the API work after the upgrade
    d = Daemon(db, name="upgraded")
    admin = d.token("admin")
    r = expect(d.call("GET", "/v1/porteurs/%s" % pid, admin), 200).json
    assert r["name"] == "Ancien", r
    expect(d.call("POST", "/v1/offers", admin, {"porteur_id": int(pid), "kind": "alt", "label": "Nîmes",
                                                "commune_insee": "30189", "capacity": 2}), 201)
    expect(d.call("GET", "/v1/communes?q=nimes", admin), 200)
    d.stop()


@test
def migration_018_names_duplicate_refs_instead_of_failing_blindly():
    """018 makes (departement, ref) unique among young people not erased. On a
    database at 017 holding two such young people, `siaod migrate` must stop
    with a message naming them by id (never by ref: personal), apply nothing of
    018, and succeed once one of them is erased (an erased record has no ref:
    ck_youth__erased). ((porteur_id, external_ref) cannot be duplicated before
    018: 018 creates external_ref.)"""
    db = Database("mig_dups")
    as_previous_release(db, last=17)

    def young(ref, dep="34"):
        return db.sql("INSERT INTO youth (ref, departement, birth_date, gender, situation, wanted_from, "
                      "registered_at) VALUES ('%s', '%s', '2005-01-01', 'female', 'street', "
                      "'2026-01-01', '2026-01-01') RETURNING id" % (ref, dep))[0]
    a, b = young("DUP-SECRET-7"), young("DUP-SECRET-7")
    other_dep = young("DUP-SECRET-7", dep="30")       # same ref, another département: fine
    single = young("DUP-SECRET-8")
    p = migrate(db, check=False)
    assert p.returncode != 0, p.stderr
    assert "migration 018" in p.stderr and "share a ref" in p.stderr, p.stderr
    assert "département 34: young people %s, %s" % (a, b) in p.stderr, p.stderr
    for not_named in (other_dep, single):
        assert not re.search(r"\b%s\b" % not_named, p.stderr.split("migration 018", 1)[1]), p.stderr
    assert "DUP-SECRET" not in p.stderr, "a ref (personal data) in the message: " + p.stderr
    # nothing of 018 was applied
    assert db.sql("SELECT max(version) FROM schema_migrations") == ["17"]
    assert db.sql("SELECT count(*) FROM information_schema.columns "
                  "WHERE table_name = 'offers' AND column_name = 'external_ref'") == ["0"]
    # the operator erases one of the two: the migration goes through
    db.sql("UPDATE youth SET erased_at = now(), ref = NULL, birth_date = NULL, status = 'closed' "
           "WHERE id = %s" % b)
    p = migrate(db)
    assert "applied=018_imports_freshness.sql" in p.stderr, p.stderr
    assert db.sql("SELECT to_regclass('youth_ref_uq') IS NOT NULL, to_regclass('offers_external_ref_uq') IS NOT NULL") == ["t|t"]
    # and the index now refuses a new duplicate
    bad = subprocess.run(["psql", "-X", "-q", "-d", db.url, "-c",
                          "INSERT INTO youth (ref, departement, birth_date, gender, situation, wanted_from, "
                          "registered_at) VALUES ('DUP-SECRET-7', '34', '2005-01-01', 'female', 'street', "
                          "'2026-01-01', '2026-01-01')"], capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "youth_ref_uq" in bad.stderr, bad.stderr


@test
def migration_027_keeps_stored_plans_readable_as_text():
    """027 turns allocation_plans.plan from jsonb into json (the daemon's text,
    in lz4) and rewrites each plan stored before with its arrays first and
    each item's text starting with {"youth_id": (where the readers cut it);
    applied stays jsonb. Such a plan reads back through the API as it was,
    each item with its young person's ref of now (none once erased), even
    with a label that holds the very text the readers cut at."""
    db = Database("mig_plans")
    as_previous_release(db, last=26)

    def young(ref):
        return int(db.sql("INSERT INTO youth (ref, departement, birth_date, gender, situation, wanted_from, "
                          "registered_at) VALUES ('%s', '30', '2005-01-01', 'female', 'street', "
                          "'2026-01-01', '2026-01-01') RETURNING id" % ref)[0])
    a, b, gone = young("MIG-A"), young("MIG-B"), young("MIG-GONE")
    db.sql("UPDATE youth SET erased_at = now(), ref = NULL, birth_date = NULL, status = 'closed' WHERE id = %d" % gone)
    tricky = 'Nîmes "centre" {"youth_id":%d,"x":1} \\ é' % b
    plan = {"assignments": [{"youth_id": a, "offer_id": 5, "label": tricky, "score": 80, "priority": 100,
                             "start_date": "2026-01-02", "end_date": "2026-04-02",
                             "reasons": [{"factor": "distance", "points": 30, "detail": "à 1 km"}]}],
            "unassigned": [{"youth_id": b, "why": "no_eligible_free_place", "excluded": {"age": 1, "pets": 0}},
                           {"youth_id": gone, "why": "places_went_to_better_matches", "eligible_offers": 2}],
            "waiting_youth": 3, "offers_with_free_places": 1, "eligible_pairs": 3}
    applied = [{"youth_id": a, "offer_id": 5, "status": 201, "placement_id": 9}]
    pid = int(db.sql("INSERT INTO allocation_plans (departement, on_date, total_score, plan, applied, applied_at, "
                     "status, progress, finished_at) VALUES ('30', '2026-01-02', 80, $j$%s$j$, $j$%s$j$, now(), "
                     "'done', 1, now()) RETURNING id" % (json.dumps(plan), json.dumps(applied)))[0])
    migrate(db)
    assert db.sql("SELECT column_name || ' ' || data_type FROM information_schema.columns "
                  "WHERE table_name = 'allocation_plans' AND column_name IN ('plan', 'applied') ORDER BY 1") \
        == ["applied jsonb", "plan json"]
    assert db.sql("SELECT attcompression FROM pg_attribute WHERE attrelid = 'allocation_plans'::regclass "
                  "AND attname = 'plan'") == ["l"]
    text = db.sql("SELECT plan::text FROM allocation_plans WHERE id = %d" % pid)[0]
    assert text.startswith('{"assignments":[{"youth_id":%d,' % a), text
    assert json.loads(text) == plan, text
    d = Daemon(db, name="plans027")
    try:
        got = expect(d.call("GET", "/v1/allocation-plans/%d" % pid, d.token("admin")), 200).json
    finally:
        d.stop()
    want = json.loads(json.dumps(plan))
    for item, ref in zip(want["assignments"] + want["unassigned"], ("MIG-A", "MIG-B", None)):
        item["ref"] = ref
    assert {k: got[k] for k in want} == want, got
    assert got["applied"] == applied and got["id"] == pid and got["status"] == "done", got


if __name__ == "__main__":
    run_all()
