#!/usr/bin/env bash
# tests/bench/run_digest_bench.sh: a day's notification digests for 1,000
# people over 100,000 active stays, sent by siaod to a local SMTP server,
# beside a plain smtplib client sending the same messages to the same server
# in the same run (see tests/bench/README.md, "The digest benchmark").
#
#   1. Release build, a throwaway PostgreSQL 15 cluster (durable), the
#      national data set (gen_data.py) with BENCH_ACTIVE stays made active,
#      planned ends over the next year;
#   2. BENCH_PEOPLE referent accounts (every département), each the following
#      referent of an equal share of the young people whose stay ends within
#      30 days, every kind of notification set to the daily digest;
#   3. alerts_scan (timed): the stay.ending_soon events, and the
#      notifications they write in the same transaction;
#   4. siaod started with digest_hour = 0 (the digests are due at once) and
#      smtp_url the sink (smtp_sink.py, python3-aiosmtpd): the time from
#      ready until every digest is recorded sent;
#   5. smtp_resend.py sends the same messages (bytes and envelopes, from the
#      sink's files) to the same sink with smtplib, one connection.
# Target: siaod's rate >= 0.5 x smtplib's. Prints the summary and writes it
# to tests/bench/results/digests-<date>.txt.
#
# Knobs: BENCH_SEED (20240601), BENCH_SCALE (1.0), BENCH_ACTIVE (100000),
# BENCH_PEOPLE (1000), BENCH_KEEP=1.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init

SEED=${BENCH_SEED:-20240601}
SCALE=${BENCH_SCALE:-1.0}
WANT_ACTIVE=${BENCH_ACTIVE:-100000}
PEOPLE=${BENCH_PEOPLE:-1000}
THRESHOLDS='{30,14,7}'

bench_packages python3-aiosmtpd
bench_build
bench_tmp
pg_cluster durable
siaod_migrate

# ------------------------------------------------------------------ data
TODAY=$(TZ=$TZ_NAME date +%F)
say "national data set (seed $SEED, scale $SCALE, today $TODAY)"
load_national "$SEED" "$SCALE" "$TODAY"
say "making $WANT_ACTIVE stays active, planned ends over the next year"
psql_db -v today="$TODAY" -v want="$WANT_ACTIVE" -o /dev/null <<'EOF'
ALTER TABLE placements DISABLE TRIGGER USER;
ALTER TABLE youth DISABLE TRIGGER USER;
CREATE TEMP TABLE conv AS
WITH last AS (
    SELECT DISTINCT ON (p.place_id) p.id, p.place_id FROM placements p
    WHERE NOT EXISTS (SELECT 1 FROM placements a WHERE a.place_id = p.place_id AND a.status = 'active')
    ORDER BY p.place_id, p.start_date DESC
), pick AS (
    SELECT id, row_number() OVER (ORDER BY hashint8(id), id) AS rn FROM last
), free_youth AS (
    SELECT y.id AS youth_id, row_number() OVER (ORDER BY hashint8(y.id), y.id) AS rn FROM youth y
    WHERE y.status = 'waiting' AND NOT EXISTS (SELECT 1 FROM placements p WHERE p.youth_id = y.id
                                               AND p.status IN ('proposed', 'accepted', 'active'))
)
SELECT pick.id, f.youth_id, pick.rn FROM pick JOIN free_youth f USING (rn)
WHERE pick.rn <= :want - (SELECT count(*) FROM placements WHERE status = 'active');
UPDATE placements p SET status = 'active', youth_id = c.youth_id, actual_end_date = NULL,
    exit_destination = NULL, planned_end_date = date :'today' + 1 + ((c.rn * 7919) % 365)::integer
FROM conv c WHERE p.id = c.id;
UPDATE youth y SET status = 'placed' FROM conv c WHERE y.id = c.youth_id;
ALTER TABLE placements ENABLE TRIGGER USER;
ALTER TABLE youth ENABLE TRIGGER USER;
EOF

say "$PEOPLE referent accounts, following the young people whose stay ends within 30 days"
psql_db -v today="$TODAY" -v people="$PEOPLE" -o /dev/null <<'EOF'
ALTER TABLE youth DISABLE TRIGGER USER;
INSERT INTO accounts (email, display_name, role, departements)
SELECT format('referent%s@bench.example.org', n), format('Référent %s', n), 'referent',
       (SELECT array_agg(DISTINCT departement) FROM youth)
FROM generate_series(1, :people) n;
WITH soon AS (
    SELECT p.youth_id, row_number() OVER (ORDER BY p.youth_id) AS rn FROM placements p
    WHERE p.status = 'active' AND p.planned_end_date <= date :'today' + 30
), acc AS (
    SELECT id, row_number() OVER (ORDER BY id) AS rn FROM accounts WHERE role = 'referent'
)
UPDATE youth y SET referent_account_id = acc.id
FROM soon JOIN acc ON acc.rn = 1 + (soon.rn - 1) % :people
WHERE y.id = soon.youth_id;
ALTER TABLE youth ENABLE TRIGGER USER;
INSERT INTO notification_prefs (account_id, kind, mode)
SELECT a.id, k, 'digest' FROM accounts a,
    unnest(ARRAY['stay_ending', 'stay_overdue', 'proposal_new', 'proposal_answered',
                 'proposal_reminder', 'capacity_available']) k;
EOF
for t in porteurs offers places youth placements accounts notification_prefs; do psql_db -c "VACUUM (ANALYZE) $t"; done
read -r N_STAYS N_ACTIVE N_SOON <<<"$(psql_db -At -F ' ' -c "SELECT count(*),
	count(*) FILTER (WHERE status = 'active'),
	count(*) FILTER (WHERE status = 'active' AND planned_end_date <= date '$TODAY' + 30) FROM placements")"
say "$N_STAYS stays, $N_ACTIVE active, $N_SOON ending within 30 days"

# ------------------------------------------------------------------ the scan
psql_db -c "CHECKPOINT" >/dev/null
psql_db -At <<EOF >"$TMP/scan.txt"
\\timing on
SELECT alerts_scan(date '$TODAY', '$THRESHOLDS');
EOF
SCAN_EVENTS=$(grep -v '^Time' "$TMP/scan.txt")
SCAN_MS=$(sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' "$TMP/scan.txt")
read -r N_NOTES N_WHO <<<"$(psql_db -At -F ' ' -c "SELECT count(*), count(DISTINCT account_id) FROM notifications")"
say "alerts_scan: $SCAN_EVENTS events in $SCAN_MS ms, $N_NOTES notifications for $N_WHO people"
psql_db -c "VACUUM (ANALYZE) notifications" -c "VACUUM (ANALYZE) outbox" >/dev/null

# ------------------------------------------------------------------ siaod → the sink
SMTP_PORT=$(free_port 18800)
/usr/bin/python3 "$BENCH/smtp_sink.py" --port "$SMTP_PORT" --out "$TMP/sink" >"$TMP/sink.log" 2>&1 &
BENCH_PIDS+=("$!")
for _ in $(seq 300); do grep -q listening "$TMP/sink.log" 2>/dev/null && break; sleep 0.1; done
grep -q listening "$TMP/sink.log" || die "the SMTP sink did not start"

say "siaod: the day's digests (digest_hour 0) to the sink on port $SMTP_PORT"
P0=$(pg_ticks)
siaod_start siaod SIAOD_SMTP_URL="smtp://127.0.0.1:$SMTP_PORT" SIAOD_SMTP_FROM="siaod <siaod@bench.example.org>" \
	SIAOD_DIGEST_HOUR=0 SIAOD_PUBLIC_URL="https://siaod.bench.example.org" SIAOD_RETENTION_MONTHS=240
T_READY=$(now)
S0=$(cpu_ticks "$SIAOD_PID" 14 15)
DEADLINE=$(( $(date +%s) + 900 ))
while :; do
	read -r BUILT SENT FAILED <<<"$(psql_db -At -F ' ' -c "SELECT (SELECT count(*) FROM notification_digests),
		count(*) FILTER (WHERE sent_at IS NOT NULL), count(*) FILTER (WHERE failed_at IS NOT NULL) FROM mail_outbox")"
	[[ -z ${T_BUILT:-} && $BUILT -ge $N_WHO ]] && T_BUILT=$(now)
	(( SENT + FAILED >= N_WHO && BUILT >= N_WHO )) && break
	(( $(date +%s) < DEADLINE )) || die "not all digests sent within 900 s ($BUILT built, $SENT sent)"
	sleep 0.2
done
T_DONE=$(now)
S1=$(cpu_ticks "$SIAOD_PID" 14 15)
P1=$(pg_ticks)
siaod_stop
SIAOD_S=$(elapsed "$T_READY" "$T_DONE")
BUILD_S=$(elapsed "$T_READY" "$T_BUILT")
SIAOD_RATE=$(awk -v n="$SENT" -v s="$SIAOD_S" 'BEGIN { printf "%.1f", n / s }')
N_FILES=$(find "$TMP/sink" -name '*.eml' | wc -l)
ONE_EACH=$(psql_db -At -c "SELECT count(*) = count(DISTINCT account_id) FROM notification_digests")
AVG_BYTES=$(cat "$TMP"/sink/*.eml | wc -c | awk -v n="$N_FILES" '{ printf "%d", (n > 0 ? $1 / n : 0) }')
say "siaod: $SENT digests sent in $SIAOD_S s ($SIAOD_RATE/s; built in $BUILD_S s), $FAILED failed, the sink has $N_FILES"

# ------------------------------------------------------------------ smtplib, the same messages
say "smtplib: the same $N_FILES messages to the same sink"
read -r PLAIN_N PLAIN_S <<<"$(/usr/bin/python3 "$BENCH/smtp_resend.py" --port "$SMTP_PORT" --dir "$TMP/sink" --first 1 --last "$N_FILES")"
PLAIN_RATE=$(awk -v n="$PLAIN_N" -v s="$PLAIN_S" 'BEGIN { printf "%.1f", n / s }')
RATIO=$(ratio "$SIAOD_RATE" "$PLAIN_RATE")
AVG_ITEMS=$(psql_db -At -c "SELECT round(avg(items), 1) FROM notification_digests")

mkdir -p "$BENCH/results"
OUT=$BENCH/results/digests-$(date +%F).txt
{
	echo "siaod digest benchmark, $(date -u +%FT%TZ), commit $(git -C "$ROOT" rev-parse --short HEAD)"
	echo "machine: $(nproc) cores, load average at start $LOADAVG_START"
	echo "data: $N_STAYS stays, $N_ACTIVE active, $N_SOON ending within 30 days; $PEOPLE referent accounts"
	echo "alerts_scan (with the notifications' trigger): $SCAN_EVENTS events, $SCAN_MS ms; $N_NOTES notifications for $N_WHO people"
	echo "digests: $N_WHO (one per person: $ONE_EACH), $AVG_ITEMS items on average, $AVG_BYTES bytes on average"
	echo
	printf '%-46s %10s %10s\n' "" "messages/s" "seconds"
	printf '%-46s %10s %10s\n' "siaod (built, queued and sent, ready → sent)" "$SIAOD_RATE" "$SIAOD_S"
	printf '%-46s %10s %10s\n' "smtplib (one connection, the same messages)" "$PLAIN_RATE" "$PLAIN_S"
	echo "ratio siaod / smtplib: $RATIO (target >= 0.5: $(mark "$RATIO >= 0.5"))"
	echo "siaod CPU per digest: $(per_ms "$S0" "$S1" "$SENT") ms; PostgreSQL CPU per digest: $(per_ms "$P0" "$P1" "$SENT") ms"
} | tee "$OUT"
echo "written to $OUT" >&2
