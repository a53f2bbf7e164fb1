#!/usr/bin/env bash
# tests/bench/run_placement_bench.sh: placements per second under concurrency,
# with no double booking, against what pgbench reaches on the same cluster in
# the same run: TPC-B (scale 10, the target: a placement is a handful of rows
# in one transaction, like a TPC-B transaction) and a single-row INSERT (see
# tests/bench/README.md, "The placement benchmark"). Builds the Release binary, makes a throwaway
# PostgreSQL 15 cluster WITH durability (fsync, synchronous_commit on: a
# placement is acknowledged after its commit is on disk), loads a small data
# set (placement_data.sql), then measures:
#   (a) siaod POST /v1/placements under wrk (64 connections), each young
#       person once, on offers of their commune (spread);
#   (b) the same, all 64 connections on the same 10 offers (hot);
#   (c) pgbench, a single-row INSERT into a plain table, -c 64 -j 2;
#   (d) pgbench's built-in TPC-B (tpcb-like) at scale 10, -c 64 -j 2, in a
#       database of its own in the same cluster;
# checks after (a) and (b) that no two placements hold one place on a common
# day and that every 201 is in the table, then the same four with fsync and
# synchronous_commit off (BENCH_FAST=0 skips it). Prints the summary (with
# the ratios placements/s over TPC-B tps, and the PostgreSQL CPU time per
# placement of (a) and (b)) and writes it to
# tests/bench/results/placements-<date>.txt.
#
# Knobs (environment): BENCH_DURATION (20 s), BENCH_CONNECTIONS (64),
# BENCH_THREADS (2), BENCH_OFFERS (5000), BENCH_COMMUNES (500), BENCH_YOUTH
# (150000, the spread list), BENCH_HOT_YOUTH (80000), BENCH_HOT_CAPACITY (40),
# BENCH_HOT_DAYS (2500: the hot stays' horizon) and BENCH_HOT_STAY (14: their
# days; see placement_data.sql),
# BENCH_POOL (siaod's db_pool_size; unset: siaod's default), BENCH_FAST=0, BENCH_HUGE_PAGES=0
# (PostgreSQL without huge pages: huge_pages_setup in lib.sh),
# BENCH_CASES (spread,hot,pgbench,tpcb), BENCH_TPCB_SCALE (10), BENCH_IDEM=1
# (each POST with an Idempotency-Key, as a client that retries sends),
# BENCH_PERF=1 (perf record -g on siaod
# during (a), durable; BENCH_PERF=pg: the machine during (a) and (b), durable,
# reported for PostgreSQL's processes), BENCH_PGSS=1 (pg_stat_statements, track = all: the
# top statements of each siaod measure in results/), BENCH_KEEP=1,
# BENCH_TAG (a suffix of the results file's name, e.g. "before").
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init

DURATION=${BENCH_DURATION:-20}
CONNS=${BENCH_CONNECTIONS:-64}
THREADS=${BENCH_THREADS:-2}
N_OFFERS=${BENCH_OFFERS:-5000}
N_COMMUNES=${BENCH_COMMUNES:-500}
N_YOUTH=${BENCH_YOUTH:-150000}
N_HOT_YOUTH=${BENCH_HOT_YOUTH:-80000}
HOT_CAPACITY=${BENCH_HOT_CAPACITY:-40}
HOT_DAYS=${BENCH_HOT_DAYS:-2500}
HOT_STAY=${BENCH_HOT_STAY:-14}
POOL=${BENCH_POOL:-}
FAST=${BENCH_FAST:-1}

bench_packages wrk time curl
bench_build
bench_tmp
PG_EXTRA=()
[[ ${BENCH_PGSS:-} == 1 ]] && PG_EXTRA=("shared_preload_libraries = 'pg_stat_statements'" "pg_stat_statements.track = all" "pg_stat_statements.max = 2000" "pg_stat_statements.track_planning = on")
# BENCH_PG_CONF: more postgresql.conf lines, separated by ';' (e.g. auto_explain)
if [[ -n ${BENCH_PG_CONF:-} ]]; then
	IFS=';' read -r -a more <<<"$BENCH_PG_CONF"
	PG_EXTRA+=("${more[@]}")
fi
huge_pages_setup   # lib.sh: siaod's, pgbench's and the single INSERT's backends alike
PG_EXTRA+=("huge_pages = $HUGE_PAGES")
pg_cluster durable "${PG_EXTRA[@]}"

siaod_migrate
TODAY=$(TZ=$TZ_NAME date +%F)
say "data set: $N_OFFERS offers on $N_COMMUNES communes + 10 hot offers of $HOT_CAPACITY places, $N_YOUTH + $N_HOT_YOUTH youth (today $TODAY)"
t=$(now)
psql_db -v today="$TODAY" -v communes="$N_COMMUNES" -v offers="$N_OFFERS" -v youth="$N_YOUTH" \
	-v hot_youth="$N_HOT_YOUTH" -v hot_capacity="$HOT_CAPACITY" -v hot_days="$HOT_DAYS" -o /dev/null -f "$BENCH/placement_data.sql"
for list in spread hot; do
	stay=28
	[[ $list == hot ]] && stay=$HOT_STAY
	psql_db -c "\\copy (SELECT youth_id, offer_id, start_date, start_date + $stay FROM bench_requests_$list ORDER BY ord) TO '$TMP/requests_$list.csv' WITH (FORMAT csv)"
done
psql_db -c "CREATE TABLE public.bench_insert (id bigserial PRIMARY KEY, a bigint NOT NULL, b bigint NOT NULL)"
TPCB_SCALE=${BENCH_TPCB_SCALE:-10}
TPCB_CONN="host=$TMP port=$PGPORT user=postgres dbname=tpcb"
"$PG_BIN/psql" -X -q "host=$TMP port=$PGPORT user=postgres dbname=postgres" -c "CREATE DATABASE tpcb"
t=$(now)
"$PG_BIN/pgbench" -i -q -s "$TPCB_SCALE" "$TPCB_CONN" >"$TMP/pgbench_init.txt" 2>&1 \
	|| { cat "$TMP/pgbench_init.txt" >&2; die "pgbench -i failed"; }
say "  TPC-B database (pgbench -i -s $TPCB_SCALE) in $(elapsed "$t" "$(now)") s"
for tb in porteurs offers places youth communes placements; do psql_db -c "VACUUM (ANALYZE) $tb"; done
HISTORY_MAX=$(psql_db -At -c "SELECT max(id) FROM placements")
read -r D_OFFERS D_PLACES D_YOUTH D_HISTORY <<<"$(psql_db -At -F ' ' -c "SELECT (SELECT count(*) FROM offers),
	(SELECT count(*) FROM places), (SELECT count(*) FROM youth), (SELECT count(*) FROM placements)")"
say "  $D_OFFERS offers, $D_PLACES places, $D_YOUTH youth, $D_HISTORY past stays in $(elapsed "$t" "$(now)") s"
TOKEN=$(siaod_token)
[[ ${BENCH_PGSS:-} == 1 ]] && psql_db -c "CREATE EXTENSION pg_stat_statements"
CASES=${BENCH_CASES:-spread,hot,pgbench,tpcb}
cat >"$TMP/insert.sql" <<'EOF'
\set a random(1, 1000000000)
\set b random(1, 1000000000)
INSERT INTO bench_insert (a, b) VALUES (:a, :b);
EOF

# ------------------------------------------------------------------ measures
lat_ms() {   # lat_ms WRK_OUTPUT PERCENTILE: that latency in ms
	awk -v p="$2" '$1 == p {
		v = $2
		if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 }
		else if (v ~ /ms$/) { sub(/ms$/, "", v) }
		else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 }
		printf "%.2f", v }' "$1"
}

# A fresh start for each measure: the history of placements only, no event,
# no audit row, no change row; VACUUM (ANALYZE) and a checkpoint first.
reset_db() {
	# (notifications, sql/020, reference the outbox; inventory_changes: sql/022)
	psql_db -c "TRUNCATE outbox, deliveries, delivery_attempts, notifications, audit, idempotency, bench_insert" \
		-c "DO \$\$ BEGIN IF to_regclass('inventory_changes') IS NOT NULL THEN TRUNCATE inventory_changes; END IF; END \$\$" \
		-c "DELETE FROM placements WHERE id > $HISTORY_MAX" \
		-c "VACUUM (ANALYZE) placements" -c "CHECKPOINT"
}

POOL_ENV=()
[[ -n $POOL ]] && POOL_ENV=(SIAOD_DB_POOL_SIZE="$POOL")

# wait_sampler APP OUT: every 0.2 s for the measure's duration, what the
# cluster's backends of that application_name are doing (state, wait event),
# in the background; wait_summary OUT: the shares, most frequent first.
wait_sampler() {
	local app=$1 out=$2
	# one session that asks every 0.2 s (\watch), not a psql started per
	# sample: a new backend's start-up would count in PostgreSQL's CPU
	(
		printf '%s\n' "SELECT coalesce(state, '?') || ':' || coalesce(wait_event_type || '/' || wait_event, 'on_CPU')
			FROM pg_stat_activity WHERE application_name = '$app' AND pid <> pg_backend_pid()" '\watch 0.2' |
			timeout "$DURATION" "$PG_BIN/psql" -X -q -At "$CONNINFO" 2>/dev/null |
			grep -E '^[a-z? ()]+:' || true
	) >"$out" &
	SAMPLER_PID=$!
	BENCH_PIDS+=("$SAMPLER_PID")
}
wait_summary() {
	sort "$1" | uniq -c | sort -rn | awk -v t="$(grep -c . "$1")" 'NR <= 6 { printf "%s %.0f%%; ", $2, 100 * $1 / t }'
}

# siaod_measure LABEL LIST: one wrk run of the list; sets M_* and prints a line
siaod_measure() {
	local label=$1 list=$2 out=$TMP/out_$1 m0 m1 s0 s1 p0 p1 t0 t1 w
	reset_db
	siaod_start "siaod_$label" "${POOL_ENV[@]}"
	[[ ${BENCH_PGSS:-} == 1 ]] && psql_db -o /dev/null -c "SELECT pg_stat_statements_reset()"
	rm -f "$out".*
	m0=$(machine_ticks); s0=$(cpu_ticks "$SIAOD_PID" 14 15); p0=$(pg_ticks); t0=$(now)
	PERF_PID=""
	if [[ ${BENCH_PERF:-} == 1 && $label == durable_spread ]]; then
		perf record -F 499 -g -p "$SIAOD_PID" -o "$TMP/perf.data" -- sleep "$DURATION" 2>/dev/null &
		PERF_PID=$!
	elif [[ ${BENCH_PERF:-} == pg && $label == durable_* ]]; then
		# the whole machine, read for PostgreSQL's processes afterwards
		perf record -F 499 -a -g -o "$TMP/perf_$label.data" -- sleep "$DURATION" 2>/dev/null &
		PERF_PID=$!
	fi
	wait_sampler siaod "$TMP/waits_$label"
	BENCH_TOKEN=$TOKEN BENCH_REQUESTS=$TMP/requests_$list.csv BENCH_OUT=$out BENCH_THREADS=$THREADS \
		BENCH_IDEM=${BENCH_IDEM:-0} \
		/usr/bin/time -f '%U %S' -o "$TMP/wrk_time_$label" \
		wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency -s "$BENCH/placements.lua" "$BASE" >"$TMP/wrk_$label.txt"
	t1=$(now); m1=$(machine_ticks); s1=$(cpu_ticks "$SIAOD_PID" 14 15); p1=$(pg_ticks)
	[[ -n $PERF_PID ]] && wait "$PERF_PID"
	wait "$SAMPLER_PID" || true
	M_WAITS=$(wait_summary "$TMP/waits_$label")
	sleep 1   # requests cut by wrk's stop may still commit
	# how the proposals went to the database: alone, or together (proposals.h)
	M_BATCH=$(curl -s "$BASE/metrics" | awk '/^siaod_proposal_statements_total\{kind="alone"\}/ { a = $2 }
		/^siaod_proposal_statements_total\{kind="batch"\}/ { b = $2 } /^siaod_proposals_batched_total/ { n = $2 }
		END { printf "%d statements alone, %d batches carrying %d proposals (%.1f a batch)", a, b, n, (b ? n / b : 0) }')
	siaod_stop
	if [[ ${BENCH_PGSS:-} == 1 ]]; then
		psql_db -c "SELECT calls, round(total_exec_time::numeric, 1) AS total_ms,
			round((total_exec_time / nullif(calls, 0))::numeric, 3) AS mean_ms,
			round(total_plan_time::numeric, 1) AS plan_ms, rows, toplevel,
			left(regexp_replace(query, '\s+', ' ', 'g'), 110) AS query
			FROM pg_stat_statements ORDER BY total_exec_time + total_plan_time DESC LIMIT 25" \
			>"$BENCH/results/placements-$(date +%F)${BENCH_TAG:+-$BENCH_TAG}-pgss-$label.txt"
	fi
	w=$TMP/wrk_$label.txt
	M_SECS=$(awk '/requests in/ { sub(/s,$/, "", $4); print $4 }' "$w")
	M_REQ=$(cat "$out".* | grep -c . || true)
	M_201=$(cat "$out".* | grep -c '^C,' || true)
	M_X=$(cat "$out".* | grep -c '^X' || true)
	M_409=$(cat "$out".* | grep -c '^S,409,' || true)
	M_OTHER=$(( M_REQ - M_201 - M_409 - M_X ))
	M_SLUGS=$(cat "$out".* | awk -F, '$1 == "S" { n[$2 " " $3]++ } END { for (k in n) printf "%s: %d; ", k, n[k] }')
	M_RATE=$(awk -v n="$M_201" -v s="$M_SECS" 'BEGIN { printf "%.1f", n / s }')
	M_REQRATE=$(awk -v n="$M_REQ" -v s="$M_SECS" 'BEGIN { printf "%.1f", n / s }')
	M_P50=$(lat_ms "$w" 50%); M_P99=$(lat_ms "$w" 99%)
	M_SIAOD_CPU=$(per_ms "$s0" "$s1" "$M_REQ"); M_PG_CPU=$(per_ms "$p0" "$p1" "$M_REQ")
	M_PG_CPU_OK=$(per_ms "$p0" "$p1" "$M_201")
	M_WRK_CPU=$(tail -n1 "$TMP/wrk_time_$label" | awk -v n="$M_REQ" '{ printf "%.3f", (n > 0 ? ($1 + $2) * 1000 / n : 0) }')
	read -r b0 a0 <<<"$m0"; read -r b1 a1 <<<"$m1"
	M_BUSY=$(cores_busy "$b0" "$b1" "$(elapsed "$t0" "$t1")")
	M_OURS=$(awk -v s="$((s1 - s0 + p1 - p0))" -v w="$(tail -n1 "$TMP/wrk_time_$label" | awk '{ print $1 + $2 }')" \
		-v hz="$CLK_TCK" -v t="$(elapsed "$t0" "$t1")" 'BEGIN { printf "%.2f", (s / hz + w) / t }')
	# the checks
	cat "$out".* | awk -F, '$1 == "C" { print $2 "," $3 "," $4 "," $5 }' >"$TMP/created_$label.csv"
	psql_db -c "CREATE TEMP TABLE acked (id bigint, youth_id bigint, offer_id bigint, place_id bigint)" \
		-c "\\copy acked FROM '$TMP/created_$label.csv' WITH (FORMAT csv)" \
		-At -F ' ' -c "SELECT
		  (SELECT count(*) FROM placements a JOIN placements b
		     ON a.place_id = b.place_id AND a.id < b.id AND a.held && b.held),
		  (SELECT count(*) FROM acked k WHERE NOT EXISTS (SELECT 1 FROM placements p
		     WHERE p.id = k.id AND p.youth_id = k.youth_id AND p.offer_id = k.offer_id
		       AND p.place_id = k.place_id AND p.status = 'proposed')),
		  (SELECT count(*) FROM placements WHERE id > $HISTORY_MAX),
		  (SELECT count(*) FROM (SELECT youth_id FROM placements WHERE id > $HISTORY_MAX GROUP BY youth_id HAVING count(*) > 1) d)" \
		>"$TMP/check_$label.txt"
	read -r M_DOUBLE M_MISSING M_ROWS M_TWICE <"$TMP/check_$label.txt"
	M_UNACKED=$(( M_ROWS - M_201 ))
	M_CHECK=ok
	if (( M_DOUBLE != 0 || M_MISSING != 0 || M_TWICE != 0 || M_UNACKED < 0 || M_UNACKED > CONNS )); then
		M_CHECK=FAILED; CHECK_RC=1
	fi
	(( M_OTHER == 0 )) || CHECK_RC=1
	if (( M_X > 0 )); then echo "warning: the request list ran out ($M_X GET /healthz): raise BENCH_YOUTH / BENCH_HOT_YOUTH" >&2; CHECK_RC=1; fi
	say "    $M_RATE placements/s (201), $M_REQRATE requests/s, p50 $M_P50 ms, p99 $M_P99 ms; 201 $M_201, 409 $M_409, other $M_OTHER; CPU per request: siaod $M_SIAOD_CPU ms, PostgreSQL $M_PG_CPU ms, wrk $M_WRK_CPU ms; PostgreSQL CPU per placement (201) $M_PG_CPU_OK ms; cores busy $M_BUSY (ours $M_OURS)"
	say "    siaod's backends (state:wait event, share of samples): $M_WAITS"
	say "    proposals: $M_BATCH"
	say "    check: $M_DOUBLE overlapping pairs on one place, $M_MISSING acknowledged 201s not in the table, $M_ROWS rows ($M_UNACKED committed but cut by wrk's stop), $M_TWICE young people with two: $M_CHECK"
	eval "R_${label}=\"\$M_RATE \$M_REQRATE \$M_P50 \$M_P99 \$M_201 \$M_409 \$M_OTHER \$M_SIAOD_CPU \$M_PG_CPU \$M_BUSY \$M_OURS \$M_DOUBLE \$M_MISSING \$M_UNACKED \$M_CHECK \$M_PG_CPU_OK\""
	eval "S_${label}=\"\$M_SLUGS\""
	eval "W_${label}=\"\$M_WAITS\""
}

# pgbench_figures OUT WAITS: after a pgbench run begun at m0/p0/t0 (the
# caller's), its rate, latency, PostgreSQL CPU per transaction, cores busy
# and backends' waits, into PB_FIGURES ("tps avg cpu busy") and PB_WAITS
pgbench_figures() {
	local out=$1 n tps avg cpu busy b0 a0 b1 a1 t1 m1 p1
	t1=$(now); m1=$(machine_ticks); p1=$(pg_ticks)
	wait "$SAMPLER_PID" || true
	PB_WAITS=$(wait_summary "$2")
	n=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$out")
	tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$out" | xargs printf '%.1f')
	avg=$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' "$out")
	cpu=$(per_ms "$p0" "$p1" "$n")
	read -r b0 a0 <<<"$m0"; read -r b1 a1 <<<"$m1"
	busy=$(cores_busy "$b0" "$b1" "$(elapsed "$t0" "$t1")")
	PB_FIGURES="$tps $avg $cpu $busy"
	say "    $tps transactions/s, latency average $avg ms; PostgreSQL CPU $cpu ms per transaction; cores busy $busy"
	say "    pgbench's backends: $PB_WAITS"
}

pgbench_measure() {   # pgbench_measure LABEL
	local label=$1 m0 p0 t0
	reset_db
	m0=$(machine_ticks); p0=$(pg_ticks); t0=$(now)
	wait_sampler pgbench "$TMP/waits_$label"
	"$PG_BIN/pgbench" -n -M prepared -c "$CONNS" -j "$THREADS" -T "$DURATION" -f "$TMP/insert.sql" \
		-h "$TMP" -p "$PGPORT" -U postgres siaod >"$TMP/pgbench_$label.txt" 2>&1
	pgbench_figures "$TMP/pgbench_$label.txt" "$TMP/waits_$label"
	eval "W_${label}=\"\$PB_WAITS\""
	eval "P_${label}=\"\$PB_FIGURES\""
}

tpcb_measure() {   # tpcb_measure LABEL: pgbench's built-in TPC-B on the tpcb database
	local label=$1 m0 p0 t0
	# what pgbench does before a run without -n, then a checkpoint as reset_db
	"$PG_BIN/psql" -X -q "$TPCB_CONN" -c "VACUUM pgbench_branches" -c "VACUUM pgbench_tellers" \
		-c "TRUNCATE pgbench_history" -c "CHECKPOINT"
	m0=$(machine_ticks); p0=$(pg_ticks); t0=$(now)
	wait_sampler pgbench "$TMP/waits_tpcb_$label"
	"$PG_BIN/pgbench" -n -M prepared -c "$CONNS" -j "$THREADS" -T "$DURATION" "$TPCB_CONN" >"$TMP/tpcb_$label.txt" 2>&1
	pgbench_figures "$TMP/tpcb_$label.txt" "$TMP/waits_tpcb_$label"
	eval "WT_${label}=\"\$PB_WAITS\""
	eval "T_${label}=\"\$PB_FIGURES\""
}

CHECK_RC=0
for m in durable fast; do
	for c in spread hot; do
		eval "R_${m}_${c}='- - - - - - - - - - - - - - -'; S_${m}_${c}=''; W_${m}_${c}=''"
	done
	eval "P_${m}='- - - -'; W_${m}=''; T_${m}='- - - -'; WT_${m}=''"
done
LOADAVG_MEASURE=$(cut -d' ' -f1-3 /proc/loadavg)
SETTINGS_DURABLE="fsync=$(pg_setting fsync), synchronous_commit=$(pg_setting synchronous_commit), full_page_writes=$(pg_setting full_page_writes), wal_level=$(pg_setting wal_level)"
say "durable cluster ($SETTINGS_DURABLE)"
run_cases() {   # run_cases durable|fast
	local m=$1
	if [[ ,$CASES, == *,spread,* ]]; then
		say "(a) siaod POST /v1/placements, spread: wrk -t$THREADS -c$CONNS -d${DURATION}s"
		siaod_measure "${m}_spread" spread
	fi
	if [[ ,$CASES, == *,hot,* ]]; then
		say "(b) siaod POST /v1/placements, all on 10 hot offers"
		siaod_measure "${m}_hot" hot
	fi
	if [[ ,$CASES, == *,pgbench,* ]]; then
		say "(c) pgbench -M prepared -c $CONNS -j $THREADS -T $DURATION, single-row INSERT"
		pgbench_measure "$m"
	fi
	if [[ ,$CASES, == *,tpcb,* ]]; then
		say "(d) pgbench -M prepared -c $CONNS -j $THREADS -T $DURATION, TPC-B (tpcb-like) scale $TPCB_SCALE"
		tpcb_measure "$m"
	fi
}
run_cases durable
SETTINGS_FAST=""
if [[ $FAST == 1 ]]; then
	psql_db -c "ALTER SYSTEM SET fsync = off" -c "ALTER SYSTEM SET synchronous_commit = off" \
		-c "ALTER SYSTEM SET full_page_writes = off" -c "SELECT pg_reload_conf()" >/dev/null
	sleep 0.5
	SETTINGS_FAST="fsync=$(pg_setting fsync), synchronous_commit=$(pg_setting synchronous_commit), full_page_writes=$(pg_setting full_page_writes)"
	say "no durability ($SETTINGS_FAST)"
	run_cases fast
fi

# ------------------------------------------------------------------ summary
line() {   # line LABEL R_VAR
	local r
	read -r -a r <<<"$2"
	printf '%-46s %10s %10s %8s %8s %7s %7s %8s %8s\n' "$1" "${r[0]}" "${r[1]}" "${r[2]}" "${r[3]}" "${r[4]}" "${r[5]}" "${r[7]}" "${r[8]}"
}
pline() {
	local r
	read -r -a r <<<"$2"
	printf '%-46s %10s %10s %8s %8s %7s %7s %8s %8s\n' "$1" "${r[0]}" "${r[0]}" "${r[1]}" "" "" "" "" "${r[2]}"
}
mode_block() {   # mode_block durable|fast SETTINGS
	local m=$1 a b c d ra rb rc rd
	a=R_${m}_spread; b=R_${m}_hot; c=P_${m}; d=T_${m}
	read -r -a ra <<<"${!a}"; read -r -a rb <<<"${!b}"; read -r -a rc <<<"${!c}"; read -r -a rd <<<"${!d}"
	echo "-- $m cluster: $2"
	printf '%-46s %10s %10s %8s %8s %7s %7s %8s %8s\n' "" "ok/s" "req/s" "p50 ms" "p99 ms" "201" "409" "siaod" "PG"
	printf '%-46s %10s %10s %8s %8s %7s %7s %8s %8s\n' "" "" "" "" "" "" "" "CPU ms/request" ""
	line "(a) siaod POST /v1/placements, spread" "${!a}"
	line "(b) siaod POST /v1/placements, 10 hot offers" "${!b}"
	pline "(c) pgbench single-row INSERT (tps)" "${!c}"
	pline "(d) pgbench TPC-B scale $TPCB_SCALE (tps)" "${!d}"
	printf '%-46s %10s   target %-8s %s\n' "a/d (placements/s over TPC-B tps)" "$(ratio "${ra[0]}" "${rd[0]}")" ">= 1.0" "$(mark "$(ratio "${ra[0]}" "${rd[0]}") >= 1.0")"
	printf '%-46s %10s\n' "b/d" "$(ratio "${rb[0]}" "${rd[0]}")"
	printf '%-46s %10s\n' "a/c (placements/s over INSERT tps)" "$(ratio "${ra[0]}" "${rc[0]}")"
	printf '%-46s %10s\n' "b/c" "$(ratio "${rb[0]}" "${rc[0]}")"
	printf '%-46s %10s\n' "a/c in PostgreSQL CPU per commit (c/a)" "$(ratio "${rc[2]}" "${ra[8]}")"
	printf '%-46s %10s\n' "PostgreSQL CPU per placement (a), ms" "${ra[15]:--}"
	printf '%-46s %10s   target %-8s %s\n' "PostgreSQL CPU per placement (b), ms" "${rb[15]:--}" "<= 1.0" "$(mark "${rb[15]:-99} <= 1.0")"
	printf '%-46s %10s\n' "PostgreSQL CPU per TPC-B transaction (d), ms" "${rd[2]}"
	echo "cores busy (whole machine / ours: siaod + PostgreSQL + wrk): (a) ${ra[9]} / ${ra[10]}, (b) ${rb[9]} / ${rb[10]}, (c) ${rc[3]}, (d) ${rd[3]} (PostgreSQL + pgbench)"
	echo "check (a): ${ra[11]} overlapping pairs, ${ra[12]} acknowledged 201s missing, ${ra[13]} rows committed but cut at wrk's stop: ${ra[14]}"
	echo "check (b): ${rb[11]} overlapping pairs, ${rb[12]} acknowledged 201s missing, ${rb[13]} rows committed but cut at wrk's stop: ${rb[14]}"
	a=S_${m}_spread; b=S_${m}_hot
	echo "non-201 answers (a): ${!a:-none}"
	echo "non-201 answers (b): ${!b:-none}"
	a=W_${m}_spread; b=W_${m}_hot; c=W_${m}
	echo "PostgreSQL backends, state:wait event, share of 0.2 s samples:"
	echo "  siaod's during (a): ${!a}"
	echo "  siaod's during (b): ${!b}"
	echo "  pgbench's during (c): ${!c}"
	d=WT_${m}
	echo "  pgbench's during (d): ${!d}"
}

mkdir -p "$BENCH/results"
TAG=$(date +%F)${BENCH_TAG:+-$BENCH_TAG}
RESULT=$BENCH/results/placements-$TAG.txt
{
	echo "siaod placement benchmark, $(date -u '+%F %T') UTC"
	echo "commit $(bench_commit), siaod $("$SIAOD" --version | awk '{print $2}'), $("$PG_BIN/postgres" --version), $(wrk --version 2>&1 | head -n1 | awk '{print $1, $2}')"
	echo "machine: $(bench_machine); load average at the start: $LOADAVG_START, before the measures: $LOADAVG_MEASURE, at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "wrk, siaod (one event-loop thread, db_pool_size ${POOL:-default 4}), PostgreSQL and pgbench share these cores; PostgreSQL huge pages $HUGE_PAGES (BENCH_HUGE_PAGES)"
	echo "data: $D_OFFERS offers ($N_OFFERS on $N_COMMUNES communes + 10 hot FJTs of $HOT_CAPACITY places), $D_PLACES places, $D_YOUTH youth, $D_HISTORY past stays (ended); each request a distinct young person, a 28-day stay starting in the next 700 days (hot: $HOT_STAY days in the next $HOT_DAYS)"
	echo "load: wrk -t$THREADS -c$CONNS -d${DURATION}s${BENCH_IDEM:+ (BENCH_IDEM=$BENCH_IDEM: Idempotency-Key on each POST)}; pgbench -M prepared -c $CONNS -j $THREADS -T $DURATION; TPC-B scale $TPCB_SCALE; nice $(nice)"
	echo
	mode_block durable "$SETTINGS_DURABLE"
	if [[ $FAST == 1 ]]; then
		echo
		mode_block fast "$SETTINGS_FAST"
	fi
} | tee "$TMP/summary.txt"
cp "$TMP/summary.txt" "$RESULT"
if [[ ${BENCH_PERF:-} == 1 && -f $TMP/perf.data ]]; then
	perf report -i "$TMP/perf.data" --stdio --no-children --percent-limit 0.5 2>/dev/null \
		| grep -v '^$' | head -n 300 >"$BENCH/results/placements-$TAG-perf.txt" || true
	echo "perf profile of siaod during (a): $BENCH/results/placements-$TAG-perf.txt"
fi
if [[ ${BENCH_PERF:-} == pg ]]; then
	for f in "$TMP"/perf_durable_*.data; do
		[[ -f $f ]] || continue
		l=${f##*/perf_}; l=${l%.data}
		{
			echo "PostgreSQL's processes during $l, by process kind and function (self time)"
			perf report -i "$f" --stdio --no-children --comm postgres --sort dso,sym -g none \
				--percent-limit 0.3 2>/dev/null | grep -v '^$' | grep -v '^#' | head -n 80
		} >"$BENCH/results/placements-$TAG-pgperf-$l.txt" || true
		echo "perf profile of PostgreSQL during $l: $BENCH/results/placements-$TAG-pgperf-$l.txt"
	done
fi
echo "written to $RESULT" >&2
exit "$CHECK_RC"
