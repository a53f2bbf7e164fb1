#!/usr/bin/env bash
# tests/bench/run_digest_bench.sh: a day's notification digests for 1,000
# people over 100,000 active stays, sent by siaod to a local SMTP server,
# beside a plain smtplib client sending the same messages to the same server
# in the same run (see tests/bench/README.md, "The digest benchmark").
#
#   1. Release build (and, with BENCH_REF, one of that commit), a throwaway
#      PostgreSQL 15 cluster (durable), the national data set (gen_data.py)
#      with BENCH_ACTIVE stays made active, planned ends over the next year;
#   2. BENCH_PEOPLE referent accounts (every département), each the following
#      referent of an equal share of the young people whose stay ends within
#      30 days, every kind of notification set to the daily digest;
#   3. alerts_scan (timed): the stay.ending_soon events, and the
#      notifications they write in the same transaction;
#   4. BENCH_RUNS rounds; in each, BENCH_REF's build (if any) then this
#      tree's, each from the same state (no digest built, nothing mailed):
#      a. siaod started with digest_hour = 0 (the digests are due at once)
#         and smtp_url a fresh sink (smtp_sink.py, python3-aiosmtpd): the
#         time from ready until every digest is recorded sent;
#      b. smtp_resend.py sends the same messages (bytes and envelopes, from
#         the sink's files) to the same sink with smtplib, one connection;
#   5. with BENCH_REF, the digests of both builds compared per recipient
#      (digest_compare.py: subject, text, HTML, unsubscribe link).
# Target: siaod's rate >= 0.5 x smtplib's. Prints the summary and writes it
# to tests/bench/results/digests-<date>-<time>.txt. Run it on a quiet machine at a
# high priority (`nice -n -10 tests/bench/run_digest_bench.sh`: everything
# it starts inherits it); the niceness and each measure's load average are
# written beside the figures.
#
# Knobs: BENCH_SEED (20240601), BENCH_SCALE (1.0), BENCH_ACTIVE (100000),
# BENCH_PEOPLE (1000), BENCH_RUNS (3), BENCH_REF (a commit with the same
# migrations, e.g. main; none by default), BENCH_KEEP=1, BENCH_HUGE_PAGES=0
# (PostgreSQL without huge pages: see huge_pages_setup in lib.sh).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init

SEED=${BENCH_SEED:-20240601}
SCALE=${BENCH_SCALE:-1.0}
WANT_ACTIVE=${BENCH_ACTIVE:-100000}
PEOPLE=${BENCH_PEOPLE:-1000}
RUNS=${BENCH_RUNS:-3}
REF=${BENCH_REF:-}
THRESHOLDS='{30,14,7}'

bench_packages python3-aiosmtpd
COMMIT=$(bench_commit)
bench_build
bench_tmp
SIAOD_WORKTREE=$SIAOD
[[ -n $REF ]] && bench_build_ref "$REF"
huge_pages_setup
pg_cluster durable "huge_pages = $HUGE_PAGES"
siaod_migrate

# ------------------------------------------------------------------ data
TODAY=$(TZ=$TZ_NAME date +%F)
say "national data set (seed $SEED, scale $SCALE, today $TODAY)"
load_national "$SEED" "$SCALE" "$TODAY"
activate_stays "$WANT_ACTIVE" "$TODAY"

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

# ------------------------------------------------------------------ siaod → the sink, then smtplib
# reset_digests: back to the state right after the scan (no digest built,
# nothing mailed), vacuumed, checkpointed
reset_digests() {
	psql_db -o /dev/null <<'EOF'
TRUNCATE notification_digests, mail_outbox;
UPDATE notifications SET mailed_at = NULL, mail_message_id = NULL, lease_until = NULL
WHERE mailed_at IS NOT NULL OR lease_until IS NOT NULL;
UPDATE accounts SET mail_error = NULL, mail_error_at = NULL WHERE mail_error IS NOT NULL;
EOF
	psql_db -c "VACUUM (ANALYZE) notifications" -c "VACUUM (ANALYZE) mail_outbox" \
		-c "VACUUM (ANALYZE) notification_digests" -c "CHECKPOINT" >/dev/null
}

# measure LABEL BINARY ROUND: siaod then smtplib on a fresh sink; appends a
# line to $TMP/lines; the sink's files stay in $TMP/sink-LABEL-ROUND
measure() {
	local label=$1 bin=$2 n=$3 out=$TMP/sink-$1-$3 log=$TMP/sink-$1-$3.log
	local port load t_ready t_built="" t_done s0 s1 p0 p1 built sent failed deadline sink_pid
	reset_digests
	port=$(free_port 18800)
	/usr/bin/python3 "$BENCH/smtp_sink.py" --port "$port" --out "$out" >"$log" 2>&1 &
	sink_pid=$!
	BENCH_PIDS+=("$sink_pid")
	for _ in $(seq 300); do grep -q listening "$log" 2>/dev/null && break; sleep 0.1; done
	grep -q listening "$log" || die "the SMTP sink did not start"
	load=$(cut -d' ' -f1-3 /proc/loadavg)
	say "round $n, $label: the day's digests (digest_hour 0) to the sink on port $port (load $load)"
	SIAOD=$bin
	siaod_start "siaod-$label-$n" SIAOD_SMTP_URL="smtp://127.0.0.1:$port" \
		SIAOD_SMTP_FROM="siaod <siaod@bench.example.org>" SIAOD_DIGEST_HOUR=0 \
		SIAOD_PUBLIC_URL="https://siaod.bench.example.org" SIAOD_RETENTION_MONTHS=240
	# from ready: the inventory's load before it is no part of the digests (the
	# start-up's own scans after it are, as they share the machine with them)
	t_ready=$(now)
	p0=$(pg_ticks)
	s0=$(cpu_ticks "$SIAOD_PID" 14 15)
	deadline=$(( $(date +%s) + 900 ))
	# one session asks every 0.1 s (a psql and a backend started each time
	# took more CPU than siaod's own mail records)
	coproc POLL { psql_db -At -F ' '; }
	while :; do
		echo "SELECT (SELECT count(*) FROM notification_digests), count(*) FILTER (WHERE sent_at IS NOT NULL),
			count(*) FILTER (WHERE failed_at IS NOT NULL) FROM mail_outbox;" >&"${POLL[1]}"
		read -r built sent failed <&"${POLL[0]}"
		[[ -z $t_built && $built -ge $N_WHO ]] && t_built=$(now)
		(( sent + failed >= N_WHO && built >= N_WHO )) && break
		(( $(date +%s) < deadline )) || die "not all digests sent within 900 s ($built built, $sent sent)"
		sleep 0.1
	done
	t_done=$(now)
	s1=$(cpu_ticks "$SIAOD_PID" 14 15)
	p1=$(pg_ticks)
	exec {POLL[1]}>&-
	wait "$POLL_PID" 2>/dev/null || true
	siaod_stop
	local siaod_s build_s siaod_rate files one_each plain_n plain_s plain_rate conns
	siaod_s=$(elapsed "$t_ready" "$t_done")
	build_s=$(elapsed "$t_ready" "$t_built")
	siaod_rate=$(awk -v n="$sent" -v s="$siaod_s" 'BEGIN { printf "%.1f", n / s }')
	files=$(find "$out" -name '*.eml' | wc -l)
	conns=$(cat "$out"/*.env | sed -n '3~3p' | sort -u | wc -l)   # the client ports: SMTP connections
	one_each=$(psql_db -At -c "SELECT count(*) = count(DISTINCT account_id) FROM notification_digests")
	say "  siaod: $sent sent in $siaod_s s ($siaod_rate/s; all built after $build_s s) over $conns connections, $failed failed; the sink has $files"
	read -r plain_n plain_s <<<"$(/usr/bin/python3 "$BENCH/smtp_resend.py" --port "$port" --dir "$out" --first 1 --last "$files")"
	plain_rate=$(awk -v n="$plain_n" -v s="$plain_s" 'BEGIN { printf "%.1f", n / s }')
	say "  smtplib: $plain_n in $plain_s s ($plain_rate/s): ratio $(ratio "$siaod_rate" "$plain_rate")"
	kill -TERM "$sink_pid" 2>/dev/null
	wait "$sink_pid" 2>/dev/null || true
	printf '%-9s %5s %6s %5s %8s %8s %8s %8s %8s %6s %7s %7s  %s\n' "$label" "$n" "$sent" "$conns" "$siaod_s" \
		"$build_s" "$siaod_rate" "$plain_s" "$plain_rate" "$(ratio "$siaod_rate" "$plain_rate")" \
		"$(per_ms "$s0" "$s1" "$sent")" "$(per_ms "$p0" "$p1" "$sent")" "$load" >>"$TMP/lines"
	[[ $one_each == t && $files -eq $N_WHO && $failed -eq 0 ]] \
		|| die "$label, round $n: $files messages for $N_WHO people, $failed failed, one digest each: $one_each"
}

: >"$TMP/lines"
for n in $(seq "$RUNS"); do
	[[ -n $REF ]] && measure ref "$SIAOD_REF" "$n"
	measure worktree "$SIAOD_WORKTREE" "$n"
done
AVG_ITEMS=$(psql_db -At -c "SELECT round(avg(items), 1) FROM notification_digests")
AVG_BYTES=$(find "$TMP/sink-worktree-1" -name '*.eml' -printf '%s\n' | awk '{ s += $1 } END { printf "%d", (NR ? s / NR : 0) }')
SAME=""
if [[ -n $REF ]]; then
	read -r C_SAME C_DIFF C_A C_B <<<"$(/usr/bin/python3 "$BENCH/digest_compare.py" "$TMP/sink-ref-1" "$TMP/sink-worktree-1" "$N_WHO")"
	SAME="digests of $REF_COMMIT and of this tree, per recipient (subject, text, HTML, unsubscribe link): $C_SAME the same, $C_DIFF different, $C_A + $C_B unmatched"
fi

# median_of LABEL COLUMN: the median of that column of LABEL's lines
median_of() {
	awk -v l="$1" -v c="$2" '$1 == l { print $c }' "$TMP/lines" | sort -g \
		| awk '{ a[NR] = $1 } END { if (NR) print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }'
}

mkdir -p "$BENCH/results"
OUT=$BENCH/results/digests-$(date +%Y%m%d-%H%M%S).txt
{
	echo "siaod digest benchmark, $(date -u +%FT%TZ), commit $COMMIT${REF:+; before: $REF ($REF_COMMIT)}"
	echo "machine: $(bench_machine); niceness $(nice); load average at start $LOADAVG_START"
	echo "PostgreSQL: durable (fsync, synchronous_commit), shared_buffers 1GB, huge pages $HUGE_PAGES"
	echo "data: $N_STAYS stays, $N_ACTIVE active, $N_SOON ending within 30 days; $PEOPLE referent accounts"
	echo "alerts_scan (with the notifications' trigger): $SCAN_EVENTS events, $SCAN_MS ms; $N_NOTES notifications for $N_WHO people"
	echo "digests: $N_WHO a round (one per person, checked each round), $AVG_ITEMS items and $AVG_BYTES bytes on average"
	[[ -n $SAME ]] && echo "$SAME"
	echo
	echo "siaod: built, queued and sent, ready → every digest recorded sent; smtplib: the same messages, one connection"
	printf '%-9s %5s %6s %5s %8s %8s %8s %8s %8s %6s %7s %7s  %s\n' build round mails conns siaod_s built_s siaod/s \
		plain_s plain/s ratio cpu_ms pg_ms "load average (1, 5, 15 min) at its start"
	cat "$TMP/lines"
	echo "(conns: SMTP connections siaod used; built_s: until the last digest was queued; cpu_ms, pg_ms: siaod's"
	echo " and PostgreSQL's CPU per digest from ready to the last sent, the start-up's scans included)"
	echo
	for l in ${REF:+ref} worktree; do
		echo "$l, median of $RUNS: siaod $(median_of "$l" 7)/s, smtplib $(median_of "$l" 9)/s, ratio $(median_of "$l" 10), PostgreSQL $(median_of "$l" 12) ms per digest"
	done
	echo "target: ratio >= 0.5 (this tree's median): $(mark "$(median_of worktree 10) >= 0.5")"
} | tee "$OUT"
echo "written to $OUT" >&2
