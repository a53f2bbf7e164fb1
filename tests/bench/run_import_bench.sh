#!/usr/bin/env bash
# tests/bench/run_import_bench.sh: a 10,000-row dry run of POST /v1/imports
# against PostgreSQL's own COPY of the same file into a plain table (issue 16:
# at most 10 x), side by side on one throwaway cluster. See
# tests/bench/README.md, "The import benchmark".
#
# Builds the Release binary, makes a throwaway PostgreSQL 15 cluster (durable
# settings; the measures write nothing but COPY's table), migrates, writes a
# 10,000-row offers file as a porteur's spreadsheet would be (French headers,
# ';', decimal commas, dates JJ/MM/AAAA, communes by name for a third of the
# rows), then, BENCH_RUNS times each (median kept):
#   (a) COPY plain FROM file (CSV, HEADER, ';') into a table of 21 text
#       columns, timed by the server (psql \timing of the COPY alone);
#   (b) the dry run of that file against an empty porteur (every row "create"),
#       timed by curl (request sent -> answer received, so it includes the
#       HTTP transfer, the parse and the database checks, and the run's record);
#   (c) the dry run again after the file was applied (every row "unchanged":
#       each row is also compared with its offer).
# Knobs: BENCH_ROWS (10000), BENCH_RUNS (5), BENCH_KEEP=1.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init
ROWS=${BENCH_ROWS:-10000}
RUNS=${BENCH_RUNS:-5}

bench_packages libcsv-dev
bench_build
bench_tmp
pg_cluster durable
siaod_migrate

PORTEUR=$(psql_db -At -c "INSERT INTO porteurs (name, departement) VALUES ('Bench imports', '34') RETURNING id")
TOKEN=$(SIAOD_DATABASE_URL=$CONNINFO "$SIAOD" token create --role porteur --porteur "$PORTEUR" --label bench 2>/dev/null | tail -n1)
[[ $TOKEN == siaod_* ]] || die "no porteur token"

say "writing a $ROWS-row offers file"
python3 - "$ROWS" "$TMP/offers.csv" <<'PY'
import random, sys
n, path = int(sys.argv[1]), sys.argv[2]
rnd = random.Random(16)
names = ["Sète", "Montpellier", "Frontignan", "Béziers", "Lunel", "Agde", "Mèze", "Lodève"]
codes = ["34301", "34172", "34108", "34032", "34145", "34003", "34157", "34142"]
kinds = ["iml", "alt", "studio_tiroir", "fjt", "colocation"]
head = ("Code offre;Type;Libellé;Commune;Département;Capacité;Durée max (jours);Âge min;Âge max;"
        "Public;Couples;Enfants;Animaux;Accès fauteuil;Accompagnement;Charge mensuelle (€);"
        "Disponible à partir du;Disponible jusqu'au;Statut")
with open(path, "w", encoding="utf-8", newline="") as f:
    f.write(head + "\r\n")
    for i in range(n):
        k = rnd.choice(kinds)
        c = rnd.randrange(len(codes))
        commune = names[c] if i % 3 == 0 else codes[c]
        stay = "90" if k == "colocation" else rnd.choice(["", "180", "365"])
        f.write(";".join([
            "BENCH-%06d" % i, k, "Logement n° %d « été »" % i, commune, "34", str(rnd.randint(1, 6)), stay,
            "16", str(rnd.choice([25, 29])), rnd.choice(["mixte", "femmes", "hommes"]),
            rnd.choice(["oui", "non"]), "non", rnd.choice(["oui", "non"]), "non",
            rnd.choice(["léger", "standard", "intensif"]), "%d,%02d" % (rnd.randint(0, 400), rnd.randint(0, 99)),
            "01/%02d/2026" % rnd.randint(1, 12), "", "ouverte"]) + "\r\n")
PY
BYTES=$(stat -c %s "$TMP/offers.csv")
chown postgres "$TMP/offers.csv"
cols=$(for i in $(seq 1 19); do printf 'c%d text,' "$i"; done)
psql_db -c "CREATE TABLE plain (${cols%,})"
SIAOD_IMPORT_MAX_BYTES=67108864 siaod_start imports

median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }

copy_ms() {
	psql_db -c "TRUNCATE plain" >/dev/null
	psql_db -c '\timing on' -c "COPY plain FROM '$TMP/offers.csv' WITH (FORMAT csv, HEADER true, DELIMITER ';')" \
		| sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -n1
}

dry_ms() {   # dry_ms EXPECTED_OUTCOME
	local out
	out=$(curl -s -o "$TMP/dry.json" -w '%{http_code} %{time_total}' -X POST \
		-H "Authorization: Bearer $TOKEN" -H 'Content-Type: text/csv' --data-binary "@$TMP/offers.csv" \
		"$BASE/v1/imports?kind=offers&mode=dry_run")
	[[ ${out%% *} == 200 ]] || die "dry run answered ${out%% *}: $(head -c 300 "$TMP/dry.json")"
	python3 -c "import json,sys; s=json.load(open(sys.argv[1]))['summary']; sys.exit(0 if s[sys.argv[2]] == s['rows'] == $ROWS else 'summary %s' % s)" \
		"$TMP/dry.json" "$1" || die "unexpected dry-run summary"
	awk -v s="${out#* }" 'BEGIN { printf "%.1f\n", s * 1000 }'
}

say "warming up"
copy_ms >/dev/null; dry_ms create >/dev/null
say "measuring: $RUNS x COPY, $RUNS x dry run (all new)"
# interleaved, so that a change of load on a shared machine hits both
COPIES=() DRIES=()
for _ in $(seq "$RUNS"); do
	COPIES+=("$(copy_ms)")
	DRIES+=("$(dry_ms create)")
	say "  COPY ${COPIES[-1]} ms, dry run ${DRIES[-1]} ms"
done
COPY=$(printf '%s\n' "${COPIES[@]}" | median)
DRY_NEW=$(printf '%s\n' "${DRIES[@]}" | median)
say "applying the file once, then $RUNS x dry run (all unchanged)"
t=$(now)
code=$(curl -s -o "$TMP/apply.json" -w '%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" \
	-H 'Content-Type: text/csv' --data-binary "@$TMP/offers.csv" "$BASE/v1/imports?kind=offers&mode=apply")
APPLY_S=$(elapsed "$t" "$(now)")
if [[ $code == 200 ]]; then
	psql_db -c "VACUUM (ANALYZE) offers" >/dev/null
	DRY_SAME=$(for _ in $(seq "$RUNS"); do dry_ms unchanged; done | median)
else
	say "apply answered $code after $APPLY_S s: $(head -c 200 "$TMP/apply.json")"
	APPLY_S="failed ($code after $APPLY_S s)"
	DRY_SAME=0
fi

RESULT=$BENCH/results/imports-$(date +%F).txt
{
	echo "import benchmark, $(date -u +%FT%TZ), commit $(git -C "$ROOT" rev-parse --short HEAD)"
	echo "machine: $(bench_machine); load at start $LOADAVG_START, at the end $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "file: $ROWS rows, $BYTES bytes (UTF-8, ';', French headers)"
	echo "COPY into a plain table (server time, median of $RUNS): $COPY ms"
	echo "dry run, every row new   (curl time, median of $RUNS): $DRY_NEW ms = $(ratio "$DRY_NEW" "$COPY") x COPY ($(mark "$DRY_NEW <= 10 * $COPY") the 10 x bound)"
	echo "dry run, every row known (curl time, median of $RUNS): $DRY_SAME ms = $(ratio "$DRY_SAME" "$COPY") x COPY ($(mark "$DRY_SAME <= 10 * $COPY") the 10 x bound)"
	echo "apply (10,000 creations, one transaction, curl wall time): $APPLY_S s"
} | tee "$RESULT"
