#!/usr/bin/env bash
# The event loop under heavy work (issue "No one can freeze siaod", item 4 (a)
# and (b)): while probe.py measures GET /healthz and GET /v1/offers every
# 50 ms, run (a) three concurrent allocation plans of the département of the
# national set closest to 3,000 waiting young people, then (b) an apply of
# 25,000 pairs. Prints the probe's p50 / p99 / worst per phase, the plans'
# total scores (to compare between builds) and saves it all to
# tests/bench/results/loop-<date>.txt. See tests/bench/README.md.
#
#   tests/bench/run_loop_bench.sh [--ref GIT_REF] [--no-save]
#
# Measures the working tree's build and, with --ref (e.g. main), that
# commit's build too (from a `git archive` copy), one after the other on
# the same data (two copies of one loaded database), on one machine.
# The data: gen_data.py's national set (seed 20240601, today), its stays
# loaded as placements, plus, for (b), 25,000 waiting young people and
# 25,000 one-place offers spread over the communes of département 23 (each
# young person reaching only their own commune: max_distance_km 1), so that
# the plan of 23 has more than 25,000 assignments to apply.
# Targets: probe worst <= 100 ms and p99 <= 20 ms during (a) and (b).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init

REF="" SAVE=1
APPLY_DEP=${BENCH_APPLY_DEP:-23}
SEED=${BENCH_SEED:-20240601}
SCALE=${BENCH_SCALE:-1.0}
N_APPLY=${BENCH_APPLY_PAIRS:-25000}
while [ $# -gt 0 ]; do
	case "$1" in
	--ref) REF=$2; shift 2 ;;
	--no-save) SAVE=0; shift ;;
	-h | --help) sed -n '2,21p' "$0"; exit 0 ;;
	*) die "unknown argument $1" ;;
	esac
done
bench_packages
bench_tmp

# ------------------------------------------------------------------ build
COMMIT=$(bench_commit)
bench_build
SIAOD_WORKTREE=$SIAOD
if [[ -n $REF ]]; then
	bench_build_ref "$REF"
	SIAOD=$SIAOD_REF       # the older schema loads the data; the newer migrates its copy
fi

# ------------------------------------------------------------------ data
pg_cluster fast
siaod_migrate
TODAY=$(TZ=$TZ_NAME date +%F)
say "generating and loading the national set (seed $SEED, scale $SCALE, today $TODAY)"
gen() { python3 "$BENCH/gen_data.py" "$1" --seed "$SEED" --scale "$SCALE" --today "$TODAY"; }
copy_in() {
	local table=$1 target=${2:-$1}
	gen "$table" | psql_db -c "\\copy $target ($(python3 "$BENCH/gen_data.py" columns "$table")) FROM STDIN WITH (FORMAT csv)"
}
psql_db -c "CREATE TABLE bench_stays (place_id bigint NOT NULL, youth_id bigint NOT NULL,
	start_date date NOT NULL, end_date date NOT NULL)"
for t in porteurs offers places youth; do psql_db -c "ALTER TABLE $t DISABLE TRIGGER USER"; done
LOAD_T=$(now)
( copy_in porteurs && copy_in offers && copy_in places ) &
LANE=$!
copy_in youth
copy_in stays bench_stays
wait "$LANE" || die "loading porteurs, offers or places failed"
psql_db <<SQL
ALTER TABLE placements DISABLE TRIGGER USER;
INSERT INTO placements (youth_id, offer_id, place_id, status, start_date, planned_end_date,
    actual_end_date, exit_destination, created_on, entered_on)
SELECT s.youth_id, p.offer_id, s.place_id,
       CASE WHEN s.end_date > date '$TODAY' THEN 'active' ELSE 'ended' END,
       s.start_date, s.end_date,
       CASE WHEN s.end_date > date '$TODAY' THEN NULL ELSE s.end_date END,
       CASE WHEN s.end_date > date '$TODAY' THEN NULL ELSE 'unknown' END,
       s.start_date, s.start_date
FROM bench_stays s JOIN places p ON p.id = s.place_id;
ALTER TABLE placements ENABLE TRIGGER USER;
SELECT setval('porteurs_id_seq', (SELECT max(id) FROM porteurs));
SELECT setval('offers_id_seq', (SELECT max(id) FROM offers));
SELECT setval('places_id_seq', (SELECT max(id) FROM places));
SELECT setval('youth_id_seq', (SELECT max(id) FROM youth));
SELECT setval('placements_id_seq', greatest(1, (SELECT max(id) FROM placements)));
-- (b): $N_APPLY young people and one-place offers over the communes of $APPLY_DEP
WITH cs AS (SELECT insee, lat, lon, row_number() OVER (ORDER BY insee) - 1 AS k, count(*) OVER () AS n
            FROM communes WHERE departement = '$APPLY_DEP')
INSERT INTO offers (porteur_id, kind, label, commune_insee, departement, lat, lon, capacity,
                    available_from, status)
SELECT (SELECT min(id) FROM porteurs WHERE departement = '$APPLY_DEP'), 'alt', 'Bench apply ' || g, cs.insee,
       '$APPLY_DEP', cs.lat, cs.lon, 1, date '$TODAY' - 1, 'open'
FROM generate_series(0, $N_APPLY - 1) g JOIN cs ON cs.k = g % cs.n;
INSERT INTO places (offer_id, number, active)
SELECT id, 1, true FROM offers WHERE label LIKE 'Bench apply %';
WITH cs AS (SELECT insee, row_number() OVER (ORDER BY insee) - 1 AS k, count(*) OVER () AS n
            FROM communes WHERE departement = '$APPLY_DEP')
INSERT INTO youth (ref, departement, birth_date, gender, household, situation, commune_insee,
                   max_distance_km, support_need, wanted_from, wanted_months, registered_at, status)
SELECT 'BA-' || g, '$APPLY_DEP', date '$TODAY' - 7300 - g % 1000, 'female', 'alone', 'precarious', cs.insee,
       1, 'standard', date '$TODAY', 6, date '$TODAY' - g % 300, 'waiting'
FROM generate_series(0, $N_APPLY - 1) g JOIN cs ON cs.k = g % cs.n;
SQL
for t in porteurs offers places youth; do psql_db -c "ALTER TABLE $t ENABLE TRIGGER USER"; done
for t in porteurs offers places youth placements communes; do psql_db -c "VACUUM (ANALYZE) $t"; done
say "loaded in $(elapsed "$LOAD_T" "$(now)") s"
# (a): the département closest to 3,000 waiting young people
read -r DEP_A WAIT_A OFFERS_A <<<"$(psql_db -At -F ' ' -c "
	SELECT y.departement, y.n, (SELECT count(*) FROM offers o WHERE o.departement = y.departement)
	FROM (SELECT departement, count(*) AS n FROM youth WHERE status = 'waiting' AND ref IS NULL
	      OR status = 'waiting' AND ref NOT LIKE 'BA-%' GROUP BY departement) y
	ORDER BY abs(y.n - 3000) LIMIT 1")"
say "(a) département $DEP_A: $WAIT_A waiting young people, $OFFERS_A offers"

measure() {   # measure LABEL COMMIT: one build on its own copy of the data
LABEL=$1 SIAOD_COMMIT=$2
FIRST_CODES=""
# ------------------------------------------------------------------ siaod
CONNINFO=$BASE_CONNINFO_PREFIX$LABEL
siaod_migrate
TOKEN=$(siaod_token)
siaod_start "$LABEL" SIAOD_MAX_BODY_BYTES=8388608 SIAOD_REQUEST_TIMEOUT_SECONDS=600
say "siaod ready in $SIAOD_READY_S s on $BASE"
api() {   # api METHOD PATH [BODY_FILE]: prints "STATUS BODY_FILE"
	local out=$TMP/resp.$RANDOM.$RANDOM code
	if [[ -n ${3:-} ]]; then
		code=$(curl -s -m 900 -o "$out" -w '%{http_code}' -X "$1" -H "Authorization: Bearer $TOKEN" \
			-H 'Content-Type: application/json' --data-binary "@$3" "$BASE$2")
	else
		code=$(curl -s -m 900 -o "$out" -w '%{http_code}' -X "$1" -H "Authorization: Bearer $TOKEN" "$BASE$2")
	fi
	echo "$code $out"
}
jget() { python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2], {"d": d}))' "$@"; }
# A plan answered 202 (worker threads) is polled until done; 201 is done.
plan_done() {   # plan_done STATUS FILE: the stored plan's file
	local code=$1 file=$2 id
	if [[ $code == 202 ]]; then
		id=$(jget "$file" 'd["id"]')
		while :; do
			read -r code file <<<"$(api GET "/v1/allocation-plans/$id")"
			[[ $(jget "$file" 'd["status"]') =~ ^(done|failed)$ ]] && break
			sleep 0.2
		done
	fi
	# a failed plan is a result too (main answered 503 when three plans
	# kept its loop busy past the database timeout): recorded, not fatal
	[[ $code =~ ^20[01]$ ]] || echo "{\"total_score\": \"HTTP $code\", \"assignments\": [], \"eligible_pairs\": 0}" >"$file"
	echo "$file"
}

# the plan of $APPLY_DEP that (b) applies: computed before the probe starts
say "(b) preparing: the plan of $APPLY_DEP"
echo "{\"departement\": \"$APPLY_DEP\", \"on\": \"$TODAY\"}" >"$TMP/plan$APPLY_DEP.json"
read -r code file <<<"$(api POST /v1/allocation-plans "$TMP/plan$APPLY_DEP.json")"
PAPPLY=$(plan_done "$code" "$file")
PAPPLY_ID=$(jget "$PAPPLY" 'd["id"]')
jget "$PAPPLY" 'json.dumps({"pairs": [{"youth_id": a["youth_id"], "offer_id": a["offer_id"]} for a in d["assignments"][:'"$N_APPLY"']]})' \
	>"$TMP/pairs.json" 2>/dev/null || python3 - "$PAPPLY" "$N_APPLY" >"$TMP/pairs.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print(json.dumps({"pairs": [{"youth_id": a["youth_id"], "offer_id": a["offer_id"]}
                            for a in d["assignments"][:int(sys.argv[2])]]}))
PY
N_PAIRS=$(jget "$TMP/pairs.json" 'len(d["pairs"])')
say "(b) plan $PAPPLY_ID of $APPLY_DEP: $(jget "$PAPPLY" 'len(d["assignments"])') assignments, total score $(jget "$PAPPLY" 'd["total_score"]'); applying $N_PAIRS"

# ------------------------------------------------------------------ measures
PROBE_OUT=$TMP/probe-$LABEL.txt
python3 "$BENCH/probe.py" "$BASE" "$TOKEN" "$PROBE_OUT" &
PROBE=$!
BENCH_PIDS+=("$PROBE")
sleep 3
IDLE0=$(date +%s.%N); sleep 5; IDLE1=$(date +%s.%N)

say "(a) three concurrent plans of $DEP_A"
echo "{\"departement\": \"$DEP_A\", \"on\": \"$TODAY\"}" >"$TMP/planA.json"
A0=$(date +%s.%N)
PIDS=()
for k in 1 2 3; do ( api POST /v1/allocation-plans "$TMP/planA.json" >"$TMP/a$k.txt" ) & PIDS+=($!); done
wait "${PIDS[@]}"
TOTALS=()
for k in 1 2 3; do
	read -r code file <"$TMP/a$k.txt"
	f=$(plan_done "$code" "$file")
	TOTALS+=("$(jget "$f" 'd["total_score"]')/$(jget "$f" 'len(d["assignments"])')/$(jget "$f" 'd["eligible_pairs"]')")
	FIRST_CODES+="$code "
done
A1=$(date +%s.%N)
say "(a) done in $(elapsed "$A0" "$A1") s: first answers ${FIRST_CODES}, total_score/assignments/pairs ${TOTALS[*]}"
sleep 2

say "(b) apply of $N_PAIRS pairs to plan $PAPPLY_ID"
B0=$(date +%s.%N)
read -r code file <<<"$(api POST "/v1/allocation-plans/$PAPPLY_ID/apply" "$TMP/pairs.json")"
B_FIRST=$code
if [[ $code == 202 ]]; then
	while :; do
		read -r code file <<<"$(api GET "/v1/allocation-plans/$PAPPLY_ID")"
		[[ $(jget "$file" '"apply" in d') == False ]] && break
		# every 2 s: a GET of this plan (25,000 assignments with their
		# refs) is seconds of PostgreSQL work, not the loop's
		sleep 2
	done
	APPLIED=$(jget "$file" 'sum(1 for x in (d["applied"] or []) if x["status"] == 201)')
else
	[[ $code == 200 ]] || die "apply: HTTP $code $(head -c 300 "$file")"
	APPLIED=$(jget "$file" 'sum(1 for x in d["results"] if x["status"] == 201)')
fi
B1=$(date +%s.%N)
say "(b) done in $(elapsed "$B0" "$B1") s (first answer $B_FIRST): $APPLIED proposals made"
sleep 1
kill -TERM "$PROBE"; wait "$PROBE" 2>/dev/null || true

{
	echo "== $LABEL: $SIAOD_COMMIT (load average now $(cut -d' ' -f1-3 /proc/loadavg))"
	echo "idle (5 s):"
	python3 "$BENCH/probe.py" --summary "$PROBE_OUT" "$IDLE0" "$IDLE1"
	echo
	echo "(a) three concurrent plans of $DEP_A ($WAIT_A waiting, $OFFERS_A offers): $(elapsed "$A0" "$A1") s, first answers ${FIRST_CODES}"
	echo "    total_score/assignments/eligible_pairs: ${TOTALS[*]}"
	python3 "$BENCH/probe.py" --summary "$PROBE_OUT" "$A0" "$A1"
	echo
	echo "(b) apply of $N_PAIRS pairs (plan of $APPLY_DEP, total score $(jget "$PAPPLY" 'd["total_score"]')): $(elapsed "$B0" "$B1") s, first answer $B_FIRST, $APPLIED proposed"
	python3 "$BENCH/probe.py" --summary "$PROBE_OUT" "$B0" "$B1"
} >>"$REPORT"
siaod_stop
}

REPORT=$TMP/report.txt
{
	echo "tests/bench/run_loop_bench.sh${REF:+ --ref $REF}: $(date -u +%FT%TZ)"
	echo "machine: $(bench_machine); load average at the start: $LOADAVG_START"
	echo "data: national set seed $SEED scale $SCALE today $TODAY + $N_APPLY young people and one-place offers in $APPLY_DEP"
	echo "probe: GET /healthz and GET /v1/offers?limit=50 every 50 ms, keep-alive (tests/bench/probe.py)"
	echo "targets in (a) and (b): worst <= 100 ms, p99 <= 20 ms"
	echo
} >"$REPORT"
# two copies of the loaded database, one per build
BASE_CONNINFO_PREFIX="host=$TMP port=$PGPORT user=postgres dbname=siaod_"
for label in ${REF:+ref} worktree; do
	"$PG_BIN/psql" -X -q "host=$TMP port=$PGPORT user=postgres dbname=postgres" \
		-c "CREATE DATABASE siaod_$label TEMPLATE siaod"
done
if [[ -n $REF ]]; then
	SIAOD=$SIAOD_REF
	measure ref "$REF $REF_COMMIT"
fi
SIAOD=$SIAOD_WORKTREE
measure worktree "$COMMIT"
cat "$REPORT"
if (( SAVE )); then
	mkdir -p "$BENCH/results"
	cp "$REPORT" "$BENCH/results/loop-$(date +%F).txt"
	say "saved tests/bench/results/loop-$(date +%F).txt"
fi
