#!/usr/bin/env bash
# The planner against LEMON: builds plan_bench (Release) and lemon_bench, makes the
# reference instance of ../shared/bench and the tighter variants of gen_tight.py,
# runs both on each, checks the optima agree, prints the table and saves it to
# tests/bench/results/plan-<date>.txt. See tests/bench/README.md, "Planner".
#
#   tests/bench/run_plan_bench.sh [--shared DIR] [--repeat N] [--only NAME,..] [--no-save]
#
# Exit status: 0 all optima equal and every ratio siaod / best LEMON <= 1.0;
# 1 an optimum differs (or a tool failed); 3 optima equal but some ratio > 1.0.
# Env: PLAN_BENCH=path skips building plan_bench; LEMON_GRAPH=static|smart
# (default static: LEMON's fastest digraph here); KEEP=1 keeps the temp dir.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
shared="$repo/../shared/bench"
repeat=5
only=""
save=1
while [ $# -gt 0 ]; do
	case "$1" in
	--shared) shared=$2; shift 2 ;;
	--repeat) repeat=$2; shift 2 ;;
	--only) only=$2; shift 2 ;;
	--no-save) save=0; shift ;;
	-h | --help) sed -n '2,13p' "$0"; exit 0 ;;
	*) echo "run_plan_bench: unknown argument $1" >&2; exit 2 ;;
	esac
done
gen_ref="$shared/gen_assignment_instance.py"
[ -f "$gen_ref" ] || { echo "run_plan_bench: $gen_ref not found (use --shared DIR)" >&2; exit 2; }
REF_OPT=4833384
REF_SHA=2186bad9f652fd45

tmp=$(mktemp -d /tmp/plan-bench.XXXXXX)
if [ "${KEEP:-0}" = 1 ]; then echo "temp dir: $tmp" >&2; else trap 'rm -rf "$tmp"' EXIT; fi
log() { echo "== $*" >&2; }

# --- LEMON --------------------------------------------------------------------
if ! dpkg -s liblemon-dev >/dev/null 2>&1; then
	log "installing liblemon-dev"
	sudo_=""; [ "$(id -u)" = 0 ] || sudo_=sudo
	$sudo_ apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq liblemon-dev >&2
fi
lemon_ver=$(dpkg-query -W -f='${Version}' liblemon-dev)
log "building lemon_bench (g++ -O2)"
# NetworkSimplex and CostScaling are header-only; no library to link.
g++ -O2 -std=c++17 -w -o "$tmp/lemon_bench" "$here/lemon_bench.cpp"

# --- plan_bench ------------------------------------------------------------------
plan_build=""
if [ -n "${PLAN_BENCH:-}" ]; then
	plan_bench=$PLAN_BENCH
	plan_build="given: $PLAN_BENCH"
else
	log "building plan_bench (cmake Release)"
	bdir="$repo/build/release"
	if cmake -S "$repo" -B "$bdir" -DCMAKE_BUILD_TYPE=Release >"$tmp/cmake.log" 2>&1 &&
		cmake --build "$bdir" --target plan_bench -j"$(nproc)" >>"$tmp/cmake.log" 2>&1; then
		plan_bench="$bdir/tests/plan_bench"
		plan_build="cmake Release ($(grep '^CMAKE_C_FLAGS_RELEASE:' "$bdir/CMakeCache.txt" | cut -d= -f2-))"
	else
		# plan.c is pure C with no dependency: when something else under daemon/
		# does not build, compile the planner alone with the Release flags.
		echo "run_plan_bench: WARNING: the cmake build of plan_bench failed; last lines:" >&2
		grep -E 'error|Error' "$tmp/cmake.log" | head -5 >&2 || tail -5 "$tmp/cmake.log" >&2
		echo "run_plan_bench: WARNING: compiling plan_bench.c + daemon/plan.c directly (-O3 -DNDEBUG)" >&2
		plan_bench="$tmp/plan_bench"
		cc -std=c11 -O3 -DNDEBUG -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -I"$repo/include" \
			-o "$plan_bench" "$repo/tests/bench/plan_bench.c" "$repo/daemon/plan.c"
		plan_build="direct cc -O3 -DNDEBUG (cmake build failed)"
	fi
fi

# --- instances -----------------------------------------------------------------
log "generating instances in $tmp"
names=()
want() { [ -z "$only" ] || [[ ",$only," == *",$1,"* ]]; }
declare -A sha
if want reference; then
	line=$(python3 "$gen_ref" "$tmp/reference.txt")
	sha[reference]=$(sed -n 's/.*sha256=\([0-9a-f]*\).*/\1/p' <<<"$line")
	[ "${sha[reference]}" = "$REF_SHA" ] ||
		echo "run_plan_bench: WARNING: reference sha256 ${sha[reference]} != $REF_SHA" >&2
	names+=(reference)
fi
while read -r name rest; do
	sha[$name]=$(sed -n 's/.*sha256=\([0-9a-f]*\).*/\1/p' <<<"$rest")
	names+=("$name")
done < <(python3 "$here/gen_tight.py" "$tmp" --shared "$shared" ${only:+--only "$only"})
[ ${#names[@]} -gt 0 ] || { echo "run_plan_bench: no instance selected" >&2; exit 2; }

# --- runs ----------------------------------------------------------------------
kv() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }
status=0
rows=()
fmt='%-12s %6s %6s %6s %7s %9s %11s %8s %6s %10s %9s %7s %6s  %s'
for n in "${names[@]}"; do
	f="$tmp/$n.txt"
	log "$n: plan_bench"
	p=$("$plan_bench" "$f" "$repeat") || { echo "run_plan_bench: plan_bench failed on $n" >&2; exit 1; }
	log "$n: lemon_bench"
	l=$("$tmp/lemon_bench" "$f" "$repeat" "${LEMON_GRAPH:-static}") ||
		{ echo "run_plan_bench: lemon_bench failed on $n: $l" >&2; exit 1; }
	echo "   siaod: $p" >&2
	echo "   lemon: $l" >&2
	s_tot=$(kv total "$p"); s_as=$(kv assigned "$p"); s_ms=$(kv best_ms "$p")
	s_arcs=$(awk -v a="$(kv arcs "$p")" 'BEGIN { printf "%.1f", a / 1e6 }')
	ns_tot=$(kv ns_total "$l"); cs_tot=$(kv cs_total "$l"); ns_as=$(kv ns_assigned "$l")
	ns_ms=$(kv ns_ms "$l"); cs_ms=$(kv cs_ms "$l"); b_ms=$(kv build_ms "$l")
	check="ok"
	if [ "$s_tot" != "$ns_tot" ] || [ "$s_tot" != "$cs_tot" ]; then
		check="OPTIMUM DIFFERS (siaod $s_tot, NS $ns_tot, CS $cs_tot)"
		status=1
	elif [ "$n" = reference ] && [ "$s_tot" != "$REF_OPT" ]; then
		check="OPTIMUM $s_tot != known $REF_OPT"
		status=1
	fi
	ratio=$(awk -v s="$s_ms" -v a="$ns_ms" -v b="$cs_ms" 'BEGIN { m = a < b ? a : b; printf "%.2f", s / m }')
	if [ "$check" = ok ] && awk -v r="$ratio" 'BEGIN { exit !(r > 1.0) }'; then
		check="RATIO > 1.0"
		[ $status = 1 ] || status=3
	fi
	rows+=("$(printf "$fmt" \
		"$n" "$(kv people "$l")" "$(kv offers "$l")" "$(kv places "$l")" "$(kv edges "$l")" \
		"$s_tot" "$s_as/$ns_as" "$s_ms" "$s_arcs" "$ns_ms" "$cs_ms" "$b_ms" "$ratio" "$check")")
done

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
{
	echo "# siaod planner vs LEMON — $(date '+%F %H:%M %Z') — $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$repo" diff --quiet HEAD -- daemon/plan.c include/siaod/plan.h 2>/dev/null || echo ' (plan.c modified)')"
	echo "# machine: $(nproc) CPU, $cpu; load average at start of table: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "# siaod: plan_bench, $plan_build; time = plan_solve() incl. its own CSR build, best of $repeat"
	echo "# LEMON $lemon_ver, g++ -O2, ${LEMON_GRAPH:-static} digraph; time = solve only (algorithm object + maps + run()), best of $repeat; build = digraph + maps"
	echo "# ratio = siaod ms / min(NetworkSimplex ms, CostScaling ms); assigned = siaod/LEMON;"
	echo "# arcs_M = arcs the planner scanned, millions (machine-independent work); lem_bld = LEMON graph build ms"
	printf "$fmt\n" \
		instance people offers places edges optimum assigned siaod_ms arcs_M netsimp_ms costsc_ms lem_bld ratio check
	printf '%s\n' "${rows[@]}"
	for n in "${names[@]}"; do echo "# $n.txt sha256 ${sha[$n]}"; done
} >"$tmp/table.txt"
cat "$tmp/table.txt"
if [ $save = 1 ]; then
	mkdir -p "$here/results"
	out="$here/results/plan-$(date +%F).txt"
	cp "$tmp/table.txt" "$out"
	echo "saved: ${out#"$repo"/}" >&2
fi
case $status in
1) echo "run_plan_bench: FAIL: an optimum differs" >&2 ;;
3) echo "run_plan_bench: FAIL: siaod slower than the best LEMON solver on some instance" >&2 ;;
esac
exit $status
