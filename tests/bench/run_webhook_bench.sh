#!/usr/bin/env bash
# tests/bench/run_webhook_bench.sh: signed webhook deliveries per second to a
# fast local receiver, and the alert scan over 1,000,000 stays (see
# tests/bench/README.md, "The webhook benchmark"). Builds the Release binary,
# makes a throwaway PostgreSQL 15 cluster with durability, loads the national
# data set (gen_data.py: 1,000,000 stays in placements) and makes
# BENCH_ACTIVE of the stays active, ending over the next year, then:
#   (1) the scan: EXPLAIN ANALYZE of alerts_scan's main query, then
#       SELECT alerts_scan(today, '{30,14,7}') twice in psql (\timing): the
#       first enqueues the alerts, the second nothing (the steady state);
#   (2) deliveries: a separate nginx (return 204) subscribed to every event
#       type; BENCH_DELIVERIES events enqueued at once (outbox + deliveries,
#       in one transaction, as the scan does) while siaod runs; the time
#       until all have succeeded, siaod's CPU time per delivery;
#   (3) signatures: BENCH_SIGNED deliveries to webhook_receiver.py, which
#       checks each one's Standard Webhooks signature.
# Prints the summary and writes it to tests/bench/results/webhooks-<date>.txt.
#
# Knobs (environment): BENCH_SEED (20240601), BENCH_SCALE (1.0), BENCH_ACTIVE
# (100000), BENCH_DELIVERIES (50000), BENCH_SIGNED (500), BENCH_PER_ENDPOINT
# (64: siaod's webhook_max_per_endpoint, its maximum), BENCH_PERF=1 (perf
# record -g on siaod during (2)), BENCH_PGSS=0 (no pg_stat_statements),
# BENCH_SCAN_PROTO=0 (skip the prototype scan, see README), BENCH_KEEP=1.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init

SEED=${BENCH_SEED:-20240601}
SCALE=${BENCH_SCALE:-1.0}
WANT_ACTIVE=${BENCH_ACTIVE:-100000}
N_DELIVERIES=${BENCH_DELIVERIES:-50000}
N_SIGNED=${BENCH_SIGNED:-500}
PER_ENDPOINT=${BENCH_PER_ENDPOINT:-64}
PGSS=${BENCH_PGSS:-1}
THRESHOLDS='{30,14,7}'

bench_packages nginx
bench_build
bench_tmp
PG_EXTRA=()
[[ $PGSS == 1 ]] && PG_EXTRA=("shared_preload_libraries = 'pg_stat_statements'" "pg_stat_statements.track = all" "pg_stat_statements.max = 5000")
pg_cluster durable "${PG_EXTRA[@]}"
siaod_migrate
[[ $PGSS == 1 ]] && psql_db -c "CREATE EXTENSION pg_stat_statements"
SETTINGS="fsync=$(pg_setting fsync), synchronous_commit=$(pg_setting synchronous_commit), full_page_writes=$(pg_setting full_page_writes)"

# ------------------------------------------------------------------ data
TODAY=$(TZ=$TZ_NAME date +%F)
say "national data set (seed $SEED, scale $SCALE, today $TODAY)"
LOAD_T=$(now)
load_national "$SEED" "$SCALE" "$TODAY"
activate_stays "$WANT_ACTIVE" "$TODAY"
for t in porteurs offers places youth placements communes outbox deliveries; do psql_db -c "VACUUM (ANALYZE) $t"; done
LOAD_S=$(elapsed "$LOAD_T" "$(now)")
read -r N_STAYS N_ACTIVE N_SOON N_OFFERS N_YOUTH <<<"$(psql_db -At -F ' ' -c "SELECT count(*),
	count(*) FILTER (WHERE status = 'active'),
	count(*) FILTER (WHERE status = 'active' AND planned_end_date <= date '$TODAY' + 30),
	(SELECT count(*) FROM offers), (SELECT count(*) FROM youth) FROM placements")"
say "loaded in $LOAD_S s: $N_STAYS stays ($N_ACTIVE active, $N_SOON ending within 30 days), $N_OFFERS offers, $N_YOUTH youth"

# ------------------------------------------------------------------ (1) the scan
LOADAVG_MEASURE=$(cut -d' ' -f1-3 /proc/loadavg)
psql_db -c "CHECKPOINT"
MAIN_QUERY="SELECT * FROM placements WHERE status = 'active'
  AND planned_end_date <= date '$TODAY' + (SELECT max(t) FROM unnest('$THRESHOLDS'::integer[]) t)"
say "(1) alerts_scan over $N_STAYS stays: EXPLAIN ANALYZE of its main query"
psql_db -c "EXPLAIN (ANALYZE, BUFFERS) $MAIN_QUERY" >"$TMP/scan_explain.txt"
sed 's/^/    /' "$TMP/scan_explain.txt" >&2

# scan_timed LABEL FUNCTION: the function twice in one session, \timing
scan_timed() {
	local label=$1 fn=$2
	[[ $PGSS == 1 ]] && psql_db -o /dev/null -c "SELECT pg_stat_statements_reset()"
	psql_db -At <<EOF >"$TMP/scan_$label.txt"
\\timing on
SELECT $fn(date '$TODAY', '$THRESHOLDS');
SELECT $fn(date '$TODAY', '$THRESHOLDS');
EOF
	read -r SCAN1_N SCAN2_N <<<"$(grep -v '^Time' "$TMP/scan_$label.txt" | tr '\n' ' ')"
	read -r SCAN1_MS SCAN2_MS <<<"$(sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' "$TMP/scan_$label.txt" | tr '\n' ' ')"
	if [[ $PGSS == 1 ]]; then
		psql_db -c "SELECT calls, round(total_exec_time::numeric, 1) AS total_ms,
			round((total_exec_time / calls)::numeric, 4) AS mean_ms, rows,
			left(regexp_replace(query, '\\s+', ' ', 'g'), 120) AS query
			FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 15" >"$TMP/scan_pgss_$label.txt"
	fi
}

# A prototype of a set-based scan (tests/bench/alerts_scan_proto.sql), in
# this throwaway cluster only: first checked to enqueue exactly the events
# alerts_scan enqueues (both run in a transaction rolled back), then timed.
PROTO=${BENCH_SCAN_PROTO:-1}
# proto_check DAY: the three scans on DAY, each in a transaction rolled
# back: "events of alerts_scan | of proto, lines differing | of proto2,
# lines differing"
proto_check() {
	local day=$1 f
	for f in alerts_scan alerts_scan_proto alerts_scan_proto2; do
		psql_db -At -o /dev/null <<EOF
BEGIN;
SELECT $f(date '$day', '$THRESHOLDS');
\\copy (SELECT type, dedup_key, data::text, departements::text, porteur_id FROM outbox WHERE dedup_key LIKE 'stay.%' ORDER BY dedup_key) TO '$TMP/events_$f.csv' WITH (FORMAT csv)
ROLLBACK;
EOF
		sort -o "$TMP/events_$f.csv" "$TMP/events_$f.csv"
	done
	echo "$(grep -c . "$TMP/events_alerts_scan.csv" || true) | $(grep -c . "$TMP/events_alerts_scan_proto.csv" || true), $(comm -3 "$TMP/events_alerts_scan.csv" "$TMP/events_alerts_scan_proto.csv" | wc -l) differing | $(grep -c . "$TMP/events_alerts_scan_proto2.csv" || true), $(comm -3 "$TMP/events_alerts_scan.csv" "$TMP/events_alerts_scan_proto2.csv" | wc -l) differing"
}
reset_outbox() { psql_db -c "TRUNCATE outbox, deliveries, delivery_attempts" -c "VACUUM (ANALYZE) outbox" -c "CHECKPOINT" >/dev/null; }
if [[ $PROTO == 1 ]]; then
	psql_db -f "$BENCH/alerts_scan_proto.sql"
	PROTO_DIFF_A=$(proto_check "$TODAY")
	say "    prototypes' check on $TODAY, empty outbox (events of alerts_scan | proto | proto2): $PROTO_DIFF_A"
	psql_db -c "CHECKPOINT" >/dev/null
fi
say "    alerts_scan, twice (\\timing)"
scan_timed scan alerts_scan
S_N1=$SCAN1_N S_N2=$SCAN2_N S_MS1=$SCAN1_MS S_MS2=$SCAN2_MS
say "    first: $S_MS1 ms ($S_N1 events), second: $S_MS2 ms ($S_N2 events)"
if [[ $PROTO == 1 ]]; then
	DAY_B=$(date -d "$TODAY + 10 days" +%F)
	psql_db -c "SELECT alert_state_backfill()" -c "ANALYZE alert_state" >/dev/null
	PROTO_DIFF_B=$(proto_check "$DAY_B")
	say "    prototypes' check on $DAY_B, after $TODAY's alerts (thresholds crossed, overdue stays): $PROTO_DIFF_B"
	# the same state again for each prototype: the first scan's events gone
	reset_outbox
	scan_timed proto alerts_scan_proto
	P_N1=$SCAN1_N P_N2=$SCAN2_N P_MS1=$SCAN1_MS P_MS2=$SCAN2_MS
	say "    proto: first $P_MS1 ms ($P_N1 events), second $P_MS2 ms ($P_N2 events)"
	reset_outbox
	psql_db -c "TRUNCATE alert_state" >/dev/null
	scan_timed proto2 alerts_scan_proto2
	Q_N1=$SCAN1_N Q_N2=$SCAN2_N Q_MS1=$SCAN1_MS Q_MS2=$SCAN2_MS
	say "    proto2: first $Q_MS1 ms ($Q_N1 events), second $Q_MS2 ms ($Q_N2 events)"
	# and alerts_scan once more, on the outbox proto2 filled
	psql_db -At -c "\\timing on" -c "SELECT alerts_scan(date '$TODAY', '$THRESHOLDS')" >"$TMP/scan_again.txt"
	S_MS3=$(sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' "$TMP/scan_again.txt")
	S_N3=$(grep -v '^Time' "$TMP/scan_again.txt")
fi

# ------------------------------------------------------------------ (2) deliveries
psql_db -c "TRUNCATE deliveries, delivery_attempts" -c "VACUUM (ANALYZE) deliveries" >/dev/null
nginx_start receiver 'location / { return 204; }'
RECV_URL=http://127.0.0.1:$NGINX_PORT/hook
[[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST -d '{}' "$RECV_URL")" == 204 ]] || die "nginx does not answer 204"
SIGN_PORT=$(free_port $((NGINX_PORT + 1)))
SECRET_NGINX="whsec_$(head -c 24 /dev/urandom | base64)"
SECRET_PY="whsec_$(head -c 24 /dev/urandom | base64)"
python3 "$BENCH/webhook_receiver.py" --port "$SIGN_PORT" --secret "$SECRET_PY" --out "$TMP/signed.txt" >"$TMP/receiver.log" 2>&1 &
RECV_PID=$!
BENCH_PIDS+=("$RECV_PID")
ALL_TYPES='["stay.ending_soon","stay.overdue","offer.capacity_available","placement.status_changed","hold.expired"]'
WH_NGINX=$(psql_db -At -c "SELECT webhook_create('{\"url\": \"$RECV_URL\", \"event_types\": $ALL_TYPES, \"label\": \"bench nginx\"}',
	'$SECRET_NGINX', '{\"role\": \"admin\"}')->>'id'")
# the checking receiver gets only the deliveries the script gives it (below)
WH_PY=$(psql_db -At -c "SELECT webhook_create('{\"url\": \"http://127.0.0.1:$SIGN_PORT/hook\", \"event_types\": [\"hold.expired\"], \"label\": \"bench receiver\"}',
	'$SECRET_PY', '{\"role\": \"admin\"}')->>'id'")

say "(2) starting siaod (webhook_max_per_endpoint $PER_ENDPOINT, webhook_max_inflight default)"
siaod_start siaod SIAOD_WEBHOOK_ALLOW_PRIVATE=true SIAOD_WEBHOOK_MAX_PER_ENDPOINT="$PER_ENDPOINT"
say "    ready in $SIAOD_READY_S s"
# let its start-up work (inventory, the scan it runs at start) settle
for _ in $(seq 100); do
	(( $(psql_db -At -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'siaod' AND state = 'active'") == 0 )) && break
	sleep 0.1
done
sleep 1
[[ $PGSS == 1 ]] && psql_db -o /dev/null -c "SELECT pg_stat_statements_reset()"

# enqueue EVENTS for WEBHOOK: N placement.status_changed events of ended
# stays (from OFFSET), and their deliveries, in one transaction, + a NOTIFY
enqueue() {
	local n=$1 wh=$2 type=$3 offset=$4
	psql_db -o /dev/null <<EOF
BEGIN;
WITH e AS (
    INSERT INTO outbox (event_id, type, dedup_key, data, departements, porteur_id)
    SELECT 'evt_' || replace(gen_random_uuid()::text, '-', ''), '$type', 'bench:$type:' || p.id,
           placement_event_data(p) || jsonb_build_object('previous_status', 'active',
               'refusal_reason', NULL, 'exit_destination', p.exit_destination),
           placement_event_departements(p), o.porteur_id
    FROM placements p JOIN offers o ON o.id = p.offer_id
    WHERE p.status = 'ended' ORDER BY p.id OFFSET $offset LIMIT $n
    RETURNING id
)
INSERT INTO deliveries (outbox_id, webhook_id) SELECT id, $wh FROM e;
SELECT pg_notify('siaod_outbox', '0');
COMMIT;
EOF
}

deliveries_state() {   # succeeded failed open(pending+delivering) for a webhook
	psql_db -At -F ' ' -c "SELECT count(*) FILTER (WHERE status = 'succeeded'), count(*) FILTER (WHERE status = 'failed'),
		count(*) FILTER (WHERE status IN ('pending', 'delivering')) FROM deliveries WHERE webhook_id = $1"
}

NGINX_P=$(nginx_pids receiver)
ng_ticks() { local t=0 p; for p in $NGINX_P; do t=$((t + $(cpu_ticks "$p" 14 15))); done; echo $t; }
# deliveries_measure TAG OFFSET TITLE: enqueue N events for nginx (the ended
# stays from OFFSET), wait until all are delivered, write the figures to
# $TMP/block_TAG.txt
deliveries_measure() {
	local tag=$1 offset=$2 title=$3 ok failed open t0 t_enq t1 s0 s1 p0 p1 n0 n1 m0 m1 b0 a0 b1 a1
	say "    $title: enqueueing $N_DELIVERIES events for nginx (one transaction)"
	PERF_PID=""
	[[ $PGSS == 1 ]] && psql_db -o /dev/null -c "SELECT pg_stat_statements_reset()"
	s0=$(cpu_ticks "$SIAOD_PID" 14 15); p0=$(pg_ticks); n0=$(ng_ticks); m0=$(machine_ticks)
	t0=$(now)
	enqueue "$N_DELIVERIES" "$WH_NGINX" placement.status_changed "$offset"
	t_enq=$(now)
	if [[ ${BENCH_PERF:-} == 1 && $tag == base ]]; then
		perf record -F 499 -g -p "$SIAOD_PID" -o "$TMP/perf.data" 2>/dev/null &
		PERF_PID=$!
		BENCH_PIDS+=("$PERF_PID")
	fi
	: >"$TMP/progress_$tag.txt"
	: >"$TMP/claim_plan_$tag.txt"
	DEADLINE=$(( $(date +%s) + 900 ))
	EXPLAINED=""
	while :; do
		read -r ok failed open <<<"$(deliveries_state "$WH_NGINX")"
		echo "$(elapsed "$t_enq" "$(now)") $ok $failed $open" >>"$TMP/progress_$tag.txt"
		(( open == 0 )) && break
		if [[ -z $EXPLAINED ]] && (( ok * 2 >= N_DELIVERIES )); then
			# half way: the plan of one claim, as siaod makes it, with the
			# backlog at half (auto_explain of the function's statement, in a
			# transaction rolled back)
			EXPLAINED=1
			psql_db -q 2>&1 <<EOF | sed -n '/Query Text\|^ \|->\|Planning\|Execution\|Buffers/p' >"$TMP/claim_plan_$tag.txt" || true
LOAD 'auto_explain';
SET auto_explain.log_min_duration = 0;
SET auto_explain.log_analyze = on;
SET auto_explain.log_buffers = on;
SET auto_explain.log_nested_statements = on;
SET auto_explain.log_level = notice;
SET client_min_messages = notice;
BEGIN;
SELECT count(*) FROM deliveries_claim(16, $PER_ENDPOINT, 45);
ROLLBACK;
EOF
		fi
		(( $(date +%s) < DEADLINE )) || { echo "warning: $open deliveries still open after 900 s" >&2; break; }
		sleep 0.25
	done
	t1=$(now)
	s1=$(cpu_ticks "$SIAOD_PID" 14 15); p1=$(pg_ticks); n1=$(ng_ticks); m1=$(machine_ticks)
	if [[ -n $PERF_PID ]]; then kill -INT "$PERF_PID"; wait "$PERF_PID" 2>/dev/null || true; fi
	ENQ_S=$(elapsed "$t0" "$t_enq")
	# the delivery window from the database's own clock: the enqueueing commit
	# to the last outcome recorded
	read -r D_WINDOW D_OK D_FAILED D_ATTEMPTS D_RETRIED D_P50 D_P99 <<<"$(psql_db -At -F ' ' -c "
		SELECT extract(epoch FROM max(d.updated_at) - min(d.created_at)),
		       count(*) FILTER (WHERE d.status = 'succeeded'), count(*) FILTER (WHERE d.status = 'failed'),
		       (SELECT count(*) FROM delivery_attempts a JOIN deliveries x ON x.id = a.delivery_id WHERE x.webhook_id = $WH_NGINX),
		       count(*) FILTER (WHERE d.attempts > 1),
		       (SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY duration_ms) FROM delivery_attempts),
		       (SELECT percentile_disc(0.99) WITHIN GROUP (ORDER BY duration_ms) FROM delivery_attempts)
		FROM deliveries d WHERE d.webhook_id = $WH_NGINX")"
	D_RATE=$(awk -v n="$D_OK" -v s="$D_WINDOW" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }')
	# the steady part: from 10 % to 90 % succeeded, from the polls
	D_MID=$(awk -v n="$N_DELIVERIES" '{ if (!a && $2 >= 0.1 * n) { a = 1; ta = $1; na = $2 } if (!b && $2 >= 0.9 * n) { b = 1; tb = $1; nb = $2 } }
		END { if (a && b && tb > ta) printf "%.0f", (nb - na) / (tb - ta); else print "?" }' "$TMP/progress_$tag.txt")
	D_SIAOD_CPU=$(per_ms "$s0" "$s1" "$D_OK"); D_PG_CPU=$(per_ms "$p0" "$p1" "$D_OK"); D_NG_CPU=$(per_ms "$n0" "$n1" "$D_OK")
	read -r b0 a0 <<<"$m0"; read -r b1 a1 <<<"$m1"
	D_BUSY=$(cores_busy "$b0" "$b1" "$(elapsed "$t0" "$t1")")
	D_SIAOD_CORES=$(cores_busy "$s0" "$s1" "$(elapsed "$t0" "$t1")")
	D_PG_CORES=$(cores_busy "$p0" "$p1" "$(elapsed "$t0" "$t1")")
	say "    $D_OK succeeded, $D_FAILED failed in $D_WINDOW s: $D_RATE deliveries/s (steady part $D_MID/s); enqueued in $ENQ_S s"
	say "    CPU per delivery: siaod $D_SIAOD_CPU ms, PostgreSQL $D_PG_CPU ms, nginx $D_NG_CPU ms; cores busy: machine $D_BUSY, siaod $D_SIAOD_CORES, PostgreSQL $D_PG_CORES"
	if [[ $PGSS == 1 ]]; then
		psql_db -c "SELECT calls, round(total_exec_time::numeric, 1) AS total_ms,
			round((total_exec_time / calls)::numeric, 3) AS mean_ms, rows, toplevel,
			left(regexp_replace(query, '\\s+', ' ', 'g'), 110) AS query
			FROM pg_stat_statements WHERE query !~ 'pg_stat_activity|FILTER \\(WHERE status = .succeeded' ORDER BY total_exec_time DESC LIMIT 15" >"$TMP/deliveries_pgss_$tag.txt"
	fi
	{
		echo "-- $title"
		printf '%-52s %10s   target %-8s %s\n' "deliveries/s (enqueue commit to last outcome)" "$D_RATE" ">= 2000" "$(mark "$D_RATE >= 2000")"
		printf '%-52s %10s\n' "deliveries/s, 10 % to 90 % succeeded" "$D_MID"
		printf '%-52s %10s\n' "window (s)" "$D_WINDOW"
		printf '%-52s %10s\n' "succeeded / failed / retried" "$D_OK / $D_FAILED / $D_RETRIED"
		printf '%-52s %10s\n' "attempts recorded" "$D_ATTEMPTS"
		printf '%-52s %10s\n' "attempt duration p50 / p99 (ms, siaod's)" "$D_P50 / $D_P99"
		printf '%-52s %10s\n' "siaod CPU per delivery (ms)" "$D_SIAOD_CPU"
		printf '%-52s %10s\n' "PostgreSQL CPU per delivery (ms)" "$D_PG_CPU"
		printf '%-52s %10s\n' "nginx CPU per delivery (ms)" "$D_NG_CPU"
		printf '%-52s %10s\n' "cores busy: machine / siaod / PostgreSQL" "$D_BUSY / $D_SIAOD_CORES / $D_PG_CORES"
		echo "plan of one claim (deliveries_claim(16, $PER_ENDPOINT, 45)) with half of the backlog delivered, auto_explain:"
		sed 's/^/  /' "$TMP/claim_plan_$tag.txt"
		if [[ $PGSS == 1 ]]; then
			echo "pg_stat_statements during this measure:"
			sed 's/^/  /' "$TMP/deliveries_pgss_$tag.txt"
		fi
	} >"$TMP/block_$tag.txt"
	(( D_OK == N_DELIVERIES )) || RC=1
}

RC=0
deliveries_measure base 0 "(2) siaod as it is"
# migration 011 has these indexes now: the prototype run is off unless asked
CLAIM_PROTO=${BENCH_CLAIM_PROTO:-0}
if [[ $CLAIM_PROTO == 1 ]]; then
	# A prototype, in this throwaway cluster only: two partial indexes for
	# deliveries_claim (its ordered pick, its count of deliveries in flight)
	psql_db -c "TRUNCATE deliveries, delivery_attempts" -c "VACUUM (ANALYZE) deliveries" >/dev/null
	psql_db -c "CREATE INDEX bench_deliveries_pick_idx ON deliveries (webhook_id, next_attempt_at, id) WHERE status IN ('pending', 'delivering')" \
		-c "CREATE INDEX bench_deliveries_inflight_idx ON deliveries (webhook_id, lease_until) WHERE status = 'delivering'" >/dev/null
	deliveries_measure proto "$N_DELIVERIES" "(2') with the prototype indexes for deliveries_claim"
fi

# ------------------------------------------------------------------ (3) signatures
say "(3) $N_SIGNED deliveries to webhook_receiver.py, signatures checked"
enqueue "$N_SIGNED" "$WH_PY" hold.expired $((2 * N_DELIVERIES))
DEADLINE=$(( $(date +%s) + 120 ))
while :; do
	read -r ok failed open <<<"$(deliveries_state "$WH_PY")"
	(( open == 0 )) && break
	(( $(date +%s) < DEADLINE )) || { echo "warning: $open signed deliveries still open" >&2; break; }
	sleep 0.25
done
psql_db -At -c "SELECT e.event_id FROM deliveries d JOIN outbox e ON e.id = d.outbox_id WHERE d.webhook_id = $WH_PY ORDER BY 1" >"$TMP/signed_expected.txt"
SIG_OK=$(grep -c '^ok ' "$TMP/signed.txt" || true)
SIG_BAD=$(grep -c '^bad ' "$TMP/signed.txt" || true)
awk '$1 == "ok" { print $2 }' "$TMP/signed.txt" | sort -u >"$TMP/signed_got.txt"
SIG_MISSING=$(comm -23 "$TMP/signed_expected.txt" "$TMP/signed_got.txt" | wc -l)
SIG_UNKNOWN=$(comm -13 "$TMP/signed_expected.txt" "$TMP/signed_got.txt" | wc -l)
SIG_CHECK=ok
(( SIG_BAD == 0 && SIG_MISSING == 0 && SIG_UNKNOWN == 0 && SIG_OK >= N_SIGNED )) || SIG_CHECK=FAILED
say "    verified $SIG_OK, bad $SIG_BAD, expected but not verified $SIG_MISSING, unknown ids $SIG_UNKNOWN: $SIG_CHECK"
RSS_MIB=$(( $(awk '/^VmRSS/ {print $2}' "/proc/$SIAOD_PID/status") / 1024 ))
siaod_stop

# ------------------------------------------------------------------ summary
[[ $SIG_CHECK == ok ]] || RC=1
mkdir -p "$BENCH/results"
RESULT=$BENCH/results/webhooks-$(date +%F).txt
{
	echo "siaod webhook benchmark, $(date -u '+%F %T') UTC"
	echo "commit $(bench_commit), siaod $("$SIAOD" --version | awk '{print $2}'), $("$PG_BIN/postgres" --version), nginx $(nginx -v 2>&1 | sed 's|.*/||'), libcurl $(curl-config --version 2>/dev/null | awk '{print $2}')"
	echo "machine: $(bench_machine); load average at the start: $LOADAVG_START, before the measures: $LOADAVG_MEASURE, at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "cluster: $SETTINGS; pg_stat_statements $([[ $PGSS == 1 ]] && echo on || echo off)"
	echo "data: seed $SEED, scale $SCALE, today $TODAY: $N_STAYS stays in placements, $N_ACTIVE active ($N_SOON ending within 30 days), $N_OFFERS offers, $N_YOUTH youth; loaded in $LOAD_S s"
	echo
	echo "(1) alert scan, SELECT alerts_scan(today, '$THRESHOLDS') in psql, twice in one session"
	printf '%-52s %10s %8s   %s\n' "" "ms" "events" "target"
	printf '%-52s %10s %8s   %s\n' "first run (enqueues the alerts)" "$S_MS1" "$S_N1" "<= 100 ms $(mark "$S_MS1 <= 100")"
	printf '%-52s %10s %8s   %s\n' "second run (nothing new: the steady state)" "$S_MS2" "$S_N2" "<= 100 ms $(mark "$S_MS2 <= 100")"
	if [[ $PROTO == 1 ]]; then
		printf '%-52s %10s %8s\n' "alerts_scan again (a third time)" "$S_MS3" "$S_N3"
		echo "prototypes (alerts_scan_proto.sql, in this throwaway cluster only):"
		printf '%-52s %10s %8s   %s\n' "proto (set-based), first run" "$P_MS1" "$P_N1" "<= 100 ms $(mark "$P_MS1 <= 100")"
		printf '%-52s %10s %8s   %s\n' "proto (set-based), second run" "$P_MS2" "$P_N2" "<= 100 ms $(mark "$P_MS2 <= 100")"
		printf '%-52s %10s %8s   %s\n' "proto2 (set-based + alert_state), first run" "$Q_MS1" "$Q_N1" "<= 100 ms $(mark "$Q_MS1 <= 100")"
		printf '%-52s %10s %8s   %s\n' "proto2 (set-based + alert_state), second run" "$Q_MS2" "$Q_N2" "<= 100 ms $(mark "$Q_MS2 <= 100")"
		echo "same events? events of alerts_scan | of proto, lines differing | of proto2, lines differing:"
		echo "  on $TODAY, empty outbox:          $PROTO_DIFF_A"
		echo "  on $DAY_B, after $TODAY's alerts: $PROTO_DIFF_B"
	fi
	echo "EXPLAIN (ANALYZE, BUFFERS) of its main query:"
	sed 's/^/  /' "$TMP/scan_explain.txt"
	if [[ $PGSS == 1 ]]; then
		echo "pg_stat_statements (track = all) over the two runs of alerts_scan:"
		sed 's/^/  /' "$TMP/scan_pgss_scan.txt"
		if [[ $PROTO == 1 ]]; then
			echo "... over the two runs of proto:"
			sed 's/^/  /' "$TMP/scan_pgss_proto.txt"
			echo "... over the two runs of proto2:"
			sed 's/^/  /' "$TMP/scan_pgss_proto2.txt"
		fi
	fi
	echo
	echo "(2) signed deliveries to nginx (return 204), one subscription, $N_DELIVERIES events enqueued in one transaction"
	echo "    siaod: webhook_max_per_endpoint $PER_ENDPOINT, webhook_max_inflight 256 (default), claims of at most 200"
	cat "$TMP/block_base.txt"
	if [[ $CLAIM_PROTO == 1 ]]; then
		echo "(2') the same after TRUNCATE deliveries and, in this throwaway cluster only:"
		echo "     CREATE INDEX ON deliveries (webhook_id, next_attempt_at, id) WHERE status IN ('pending', 'delivering');"
		echo "     CREATE INDEX ON deliveries (webhook_id, lease_until) WHERE status = 'delivering';"
		cat "$TMP/block_proto.txt"
	fi
	printf '%-52s %10s\n' "siaod VmRSS at the end (MiB)" "$RSS_MIB"
	echo
	echo "(3) signatures: $N_SIGNED deliveries to webhook_receiver.py (Standard Webhooks check): verified $SIG_OK, bad $SIG_BAD, missing $SIG_MISSING, unknown $SIG_UNKNOWN: $SIG_CHECK"
} | tee "$TMP/summary.txt"
cp "$TMP/summary.txt" "$RESULT"
cp "$TMP/progress_base.txt" "$BENCH/results/webhooks-$(date +%F)-progress.txt"
if [[ ${BENCH_PERF:-} == 1 && -f $TMP/perf.data ]]; then
	perf report -i "$TMP/perf.data" --stdio --no-children --percent-limit 0.5 2>/dev/null \
		| grep -v '^$' | head -n 300 >"$BENCH/results/webhooks-$(date +%F)-perf.txt" || true
	echo "perf profile of siaod during (2): $BENCH/results/webhooks-$(date +%F)-perf.txt"
fi
echo "written to $RESULT" >&2
exit "$RC"
