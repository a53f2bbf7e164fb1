# shellcheck shell=bash
# scripts/lib/common.sh: messages, privileges and system packages for the
# developer scripts. Sourced, never run; expects `set -euo pipefail`.

# Debian 12 packages the build, the tests and `scripts/dev up` need. Add a
# package here and every entry point installs it when it is missing.
SIAOD_PACKAGES=(
	build-essential cmake pkg-config
	libevent-dev libjansson-dev libpq-dev libcurl4-openssl-dev libssl-dev libhttp-parser-dev
	postgresql postgresql-contrib
	python3 curl
	chromium nodejs npm
	clang libclang-rt-dev cppcheck clang-tidy
	# libxlsxwriter.pc links -lz, but libxlsxwriter-dev does not depend on zlib1g-dev
	libxlsxwriter-dev zlib1g-dev python3-yaml python3-jsonschema python3-openpyxl
	libargon2-dev libcjose-dev python3-aiosmtpd
	libcsv-dev
	# the OpenID Connect sign-in in headless Chromium (tests/api/test_oidc.py)
	python3-selenium chromium-driver
)

say()  { printf '==> %s\n' "$*" >&2; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die()  { printf 'error: %s\n' "$*" >&2; exit 1; }

# Run a command as root: directly when we are root, through sudo otherwise.
as_root() {
	if (( EUID == 0 )); then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo -- "$@"
	else
		die "need root (or sudo) to run: $*"
	fi
}

# True when package $1 is installed, or is a virtual package that an installed
# package provides (NodeSource's nodejs provides npm, and conflicts with
# Debian's npm: asking apt for npm there would fail).
pkg_installed() {
	[[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]] && return 0
	dpkg-query -W -f='${Status}\t${Provides}\n' 2>/dev/null | awk -F'\t' -v want="$1" '
		$1 == "install ok installed" {
			n = split($2, provided, /, */)
			for (i = 1; i <= n; i++) { sub(/ .*/, "", provided[i]); if (provided[i] == want) found = 1 }
		}
		END { exit !found }'
}

# Install whichever of SIAOD_PACKAGES is missing; apt-get update only if needed.
ensure_packages() {
	local missing=() pkg
	for pkg in "${SIAOD_PACKAGES[@]}"; do
		pkg_installed "$pkg" || missing+=("$pkg")
	done
	(( ${#missing[@]} == 0 )) && return 0
	say "installing ${missing[*]}"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
	as_root env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# Configure (cheap when nothing changed) and build one CMake build directory.
#   cmake_build DIR [cmake -D options...]
cmake_build() {
	local dir=$1; shift
	say "building $dir"
	# developer builds: warnings are errors (a package build leaves SIAOD_WERROR off)
	cmake -S "$SIAOD_ROOT" -B "$SIAOD_ROOT/$dir" -DSIAOD_WERROR=ON "$@" >/dev/null
	cmake --build "$SIAOD_ROOT/$dir" -j"$(nproc)"
}

# True when something listens on TCP port $1 (any address, IPv4 or IPv6).
tcp_port_in_use() {
	local hex
	printf -v hex ':%04X' "$1"
	awk -v h="$hex" 'FNR > 1 && $4 == "0A" && substr($2, length($2) - 4) == h { found = 1 }
		END { exit !found }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
