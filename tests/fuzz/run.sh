#!/bin/sh
# tests/fuzz/run.sh HARNESS FUZZ_DIR SECONDS: what the fuzz.* ctest tests run
# (tests/CMakeLists.txt). Runs a libFuzzer harness for SECONDS from a copy of
# its seeds, FUZZ_DIR/corpus/<harness> and the inputs that once crashed it,
# FUZZ_DIR/crashes/<harness>, with FUZZ_DIR/<harness>.dict. libFuzzer adds
# what it finds to its corpus directory: the copy, never the committed one.
# On a crash the input is printed (base64) and the temporary directory kept.
set -eu
bin=$1 dir=$2 secs=$3
name=$(basename "$bin")
work=$(mktemp -d "${TMPDIR:-/tmp}/siaod-$name.XXXXXX")
trap 'rm -rf "$work"; exit 1' INT TERM
mkdir "$work/corpus" "$work/artifacts"
cp "$dir/corpus/$name"/* "$work/corpus/"
if [ -d "$dir/crashes/$name" ]; then
	cp "$dir/crashes/$name"/* "$work/corpus/"
fi
set -- -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	-artifact_prefix="$work/artifacts/"
[ -f "$dir/$name.dict" ] && set -- "$@" -dict="$dir/$name.dict"
rc=0
"$bin" "$@" "$work/corpus" || rc=$?
found=$(ls "$work/artifacts")
if [ "$rc" -ne 0 ] || [ -n "$found" ]; then
	for f in "$work"/artifacts/*; do
		[ -f "$f" ] || continue
		echo "=== $name: $(basename "$f") ($(wc -c <"$f") bytes), base64:"
		base64 "$f"
		echo "=== reproduce: $bin $f"
	done
	echo "$name: exit status $rc; inputs kept in $work" >&2
	exit $(( rc ? rc : 1 ))
fi
rm -rf "$work"
