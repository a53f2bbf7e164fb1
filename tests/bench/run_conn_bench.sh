#!/usr/bin/env bash
# The connection benchmark (issue "No one can freeze siaod", item 4 (c) and
# (d)), by hand, as root: a Release siaod, a throwaway cluster, then
#   (c) 1,100 connections sending a header byte every 5 s, no token, for 40 s,
#       siaod under `ulimit -n 1024` (max_connections derived: 768);
#   (d) 20,000 idle connections for 40 s, siaod under `ulimit -n 20000`
#       (max_connections derived: 15,000);
# while a probe opens a new connection for each GET /healthz every 50 ms.
# Targets: every probe call answered within 1 s; the log under 1 MB in (c).
# Writes tests/bench/results/conn-<date>.txt. RUNS="c" (or "d") runs one.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init
bench_packages
bench_build
bench_tmp
pg_cluster fast

SECONDS_EACH=${SECONDS_EACH:-40}
OUT=$BENCH/results/conn-$(date +%Y%m%d-%H%M%S).txt
mkdir -p "$BENCH/results"
REAL=$SIAOD

run() {   # run NAME NOFILE MODE N
	local name=$1 nofile=$2 mode=$3 n=$4
	printf '#!/bin/sh\nulimit -n %d || exit 97\nexec "%s" "$@"\n' "$nofile" "$REAL" >"$TMP/siaod-$nofile"
	chmod +x "$TMP/siaod-$nofile"
	SIAOD=$TMP/siaod-$nofile
	siaod_start "$name" SIAOD_LOG_LEVEL=info
	say "($name) $n $mode connections for ${SECONDS_EACH}s, siaod under ulimit -n $nofile"
	local result
	result=$(python3 "$BENCH/conn_load.py" "$PORT" "$mode" "$n" "$SECONDS_EACH")
	local cpu
	cpu=$(awk -v t="$CLK_TCK" '{ printf "%.1f", ($14 + $15) / t }' "/proc/$SIAOD_PID/stat")
	siaod_stop
	local logsize
	logsize=$(stat -c %s "$TMP/$name.log")
	echo "($name) $result cpu_s=$cpu log_bytes=$logsize" | tee -a "$OUT"
	echo "($name) accept-error log lines: $(grep -c 'event=accept ' "$TMP/$name.log" || true)" | tee -a "$OUT"
}

{
	echo "commit $(bench_commit); machine: $(bench_machine); load average at the start: $LOADAVG_START"
} | tee "$OUT"
# RUNS="c" or RUNS="d" runs one of them
[[ " ${RUNS:-c d} " == *" c "* ]] && run c 1024 trickle 1100
[[ " ${RUNS:-c d} " == *" d "* ]] && run d 20000 idle 20000
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT"
say "written to $OUT"
