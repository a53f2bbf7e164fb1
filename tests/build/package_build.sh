#!/usr/bin/env bash
# A build as a Debian packager makes it (dh_auto_configure: build type None,
# tests off, prefix /usr, no -Werror), then `cmake --install` into a DESTDIR,
# checked file by file: what the binary embeds (sql/, the UI) is not
# installed again, the systemd unit names this prefix's paths, the binary
# links no libevent_pthreads, and the embedded files are C sources (no
# assembler .incbin, which breaks 32-bit targets).
#   tests/build/package_build.sh SOURCE_DIR
set -euo pipefail
src=$1
work=$(mktemp -d /tmp/siaod-pkgbuild.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# -O0: this checks the build and the install, not the code generation; quick.
CFLAGS="-O0 -Wformat -Werror=format-security" cmake -S "$src" -B "$work/build" \
	-DCMAKE_BUILD_TYPE=None -DBUILD_TESTING=OFF -DCMAKE_INSTALL_PREFIX=/usr >"$work/configure.log" 2>&1 ||
	{ cat "$work/configure.log" >&2; fail "configure with BUILD_TESTING=OFF"; }
[[ ! -e $work/build/tests ]] || fail "BUILD_TESTING=OFF still configures tests/"
grep -q -- "-Werror " "$work/build/compile_commands.json" && fail "-Werror without SIAOD_WERROR"
cmake --build "$work/build" -j2 >"$work/build.log" 2>&1 ||
	{ tail -30 "$work/build.log" >&2; fail "build with BUILD_TESTING=OFF"; }
[[ -z "$(find "$work/build" -name '*.S' -o -name '*.s')" ]] || fail "assembler sources generated"
ls "$work/build"/assets_{sql,data,ui}.c >/dev/null || fail "no generated C assets"
# The generated C compiles for a 32-bit target too (what .quad/@progbits
# broke): on x86_64, gcc -m32 needs no 32-bit libc for this header-free file.
if [[ $(uname -m) == x86_64 ]]; then
	for g in sql ui; do
		"${CC:-cc}" -m32 -std=c11 -Wall -Wextra -Werror -c -I"$src/daemon" "$work/build/assets_$g.c" \
			-o "$work/assets_${g}32.o" || fail "assets_$g.c does not compile for i386"
	done
fi
for t in plan_bench test_date; do
	[[ ! -e $work/build/tests/$t ]] || fail "$t built with BUILD_TESTING=OFF"
done

DESTDIR=$work/root cmake --install "$work/build" >"$work/install.log" 2>&1 ||
	{ cat "$work/install.log" >&2; fail "cmake --install"; }
files=$(cd "$work/root" && find . -type f | sort)
expected=$(printf '%s\n' ./etc/siaod/siaod.conf ./usr/bin/siaoctl ./usr/bin/siaod \
	./usr/lib/systemd/system/siaod.service ./usr/share/doc/siaod/LICENSE \
	./usr/share/doc/siaod/README.md | sort)
if [[ $files != "$expected" ]]; then
	diff <(echo "$expected") <(echo "$files") >&2 || true
	fail "installed files differ from the expected list (above: - expected, + installed)"
fi

unit=$work/root/usr/lib/systemd/system/siaod.service
grep -qx 'ExecStart=/usr/bin/siaod --config /etc/siaod/siaod.conf' "$unit" || fail "ExecStart: $(grep ExecStart "$unit")"
grep -qx 'Documentation=file:/usr/share/doc/siaod/README.md' "$unit" || fail "Documentation line"
! grep -q '/usr/local\|@[A-Z_]*@' "$unit" || fail "unit still names /usr/local or a placeholder"

needed=$(readelf -d "$work/root/usr/bin/siaod" | grep NEEDED)
# a here-string, not `echo | grep -q`: grep -q stops at the first match, and
# under pipefail the echo's SIGPIPE would fail the check at random
grep -q 'libevent-' <<<"$needed" || fail "siaod does not link libevent? $needed"
! grep -q pthreads <<<"$needed" || fail "siaod links libevent_pthreads: $needed"

"$work/root/usr/bin/siaod" --version | grep -q '^siaod ' || fail "the installed siaod does not run"
# a release build has no test clock: each of its keys is refused
for key in DAYS HOURS MINUTES; do
	out=$(env "SIAOD_TEST_CLOCK_OFFSET_$key=1" "$work/root/usr/bin/siaod" --check-config 2>&1) &&
		fail "the release siaod accepted SIAOD_TEST_CLOCK_OFFSET_$key"
	grep -q "only in a test build" <<<"$out" || fail "SIAOD_TEST_CLOCK_OFFSET_$key refused, but: $out"
done
echo "ok: configured, built and installed without tests; $(echo "$files" | wc -l) files installed"
