# tests/bench/lib.sh: shell functions shared by the benchmarks that need a
# Release siaod and a throwaway PostgreSQL 15 cluster (run_placement_bench.sh,
# run_webhook_bench.sh, run_digest_bench.sh). Sourced, after `set -euo pipefail`:
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#   bench_init                      # ROOT, BENCH, PG_BIN, T0, say/die/now/elapsed
#   bench_packages wrk nginx ...    # apt-get what is missing (+ the build set)
#   bench_build                     # cmake Release → $SIAOD
#   bench_build_ref REF             # REF's tree, Release in build/ref-<commit> → $SIAOD_REF, $REF_COMMIT
#   bench_tmp                       # TMP=mktemp -d /tmp/siaod-bench.XXXXXX, cleanup on EXIT
#   pg_cluster durable|fast [EXTRA_CONF_LINE]...   # initdb + start → PGPORT, CONNINFO
#   psql_db ...                     # psql on the bench database, ON_ERROR_STOP
#   siaod_start NAME [VAR=VALUE]... # siaod in the background → SIAOD_PID, BASE
#   siaod_stop
#   nginx_start NAME SERVER_BLOCK   # a separate nginx on its own prefix → NGINX_PORT
#   load_national SEED SCALE TODAY  # gen_data.py's national set, stays in placements
#   activate_stays WANT TODAY       # WANT stays active, planned ends over the next year
#
# Everything started through these functions is stopped, by its own PID (or
# pid file), and the directory removed on exit (BENCH_KEEP=1 keeps it). Never
# by name: other siaod daemons and clusters run on the same machine.

bench_init() {
	ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
	BENCH=$ROOT/tests/bench
	PG_BIN=/usr/lib/postgresql/15/bin
	TZ_NAME=${TZ_NAME:-Europe/Paris}
	T0=$(now)
	LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)
	CLK_TCK=$(getconf CLK_TCK)
	(( EUID == 0 )) || die "run as root: the cluster is made and run as the postgres user (runuser)"
}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
say() { printf '[%6.1fs] %s\n' "$(elapsed "$T0" "$(now)")" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3g", (b > 0 ? a / b : 0) }'; }
mark() { awk "BEGIN { print (($1) ? \"met\" : \"MISSED\") }"; }

# ------------------------------------------------------------------ tools
bench_packages() {   # bench_packages EXTRA...: install what is missing
	local p missing=()
	for p in build-essential cmake pkg-config libevent-dev libjansson-dev libpq-dev \
		 libcurl4-openssl-dev libssl-dev postgresql postgresql-contrib python3 curl "$@"; do
		[[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" == "install ok installed" ]] || missing+=("$p")
	done
	if (( ${#missing[@]} )); then
		echo "installing ${missing[*]}" >&2
		DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
	fi
	[[ -x $PG_BIN/initdb ]] || die "PostgreSQL 15 is not in $PG_BIN"
}

bench_build() {
	say "building Release (build/release)"
	cmake -S "$ROOT" -B "$ROOT/build/release" -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build "$ROOT/build/release" -j2 >/dev/null
	SIAOD=$ROOT/build/release/siaod
}

# bench_build_ref REF: a copy of REF's tree, built in build/ref-<commit>
# (kept: the next run of the same commit builds nothing)
bench_build_ref() {
	REF_COMMIT=$(git -C "$ROOT" rev-parse --short "$1")
	local dir=$ROOT/build/ref-$REF_COMMIT
	say "building Release of $1 ($REF_COMMIT) from a copy of its tree, in $dir"
	if [[ ! -f $dir/src/CMakeLists.txt ]]; then
		rm -rf "$dir/src"
		mkdir -p "$dir/src"
		git -C "$ROOT" archive "$1" | tar -x -C "$dir/src"
	fi
	cmake -S "$dir/src" -B "$dir/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build "$dir/build" -j2 --target siaod >/dev/null
	SIAOD_REF=$dir/build/siaod
}

bench_commit() {   # the commit, and the files of daemon/include/sql changed or added since
	local changed
	changed=$(git -C "$ROOT" status --porcelain -- daemon include sql CMakeLists.txt 2>/dev/null | awk '{ print $2 }' | tr '\n' ' ')
	echo "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')${changed:+ + uncommitted: ${changed% }}"
}

bench_machine() {
	echo "$(nproc) cores ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n1)), $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)"
}

# ------------------------------------------------------------------ cleanup
BENCH_PIDS=()        # background processes of ours, stopped at exit (TERM)
NGINX_PREFIXES=()    # nginx prefixes (each with nginx.conf and nginx.pid)
PG_STARTED=""
SIAOD_PID=""

bench_cleanup() {
	local rc=$? pid prefix
	set +e
	siaod_stop
	[[ -n ${HUGE_PAGES_BEFORE:-} ]] && echo "$HUGE_PAGES_BEFORE" >/proc/sys/vm/nr_hugepages
	for prefix in "${NGINX_PREFIXES[@]}"; do
		[[ -f $prefix/nginx.pid ]] && nginx -p "$prefix/" -c "$prefix/nginx.conf" -s stop 2>/dev/null
	done
	for pid in "${BENCH_PIDS[@]}"; do
		if kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
	done
	if [[ -n $PG_STARTED ]]; then
		(cd / && runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$TMP/data" -m fast -w stop >/dev/null)
	fi
	if [[ -n ${TMP:-} ]]; then
		if [[ ${BENCH_KEEP:-} == 1 ]]; then echo "kept $TMP" >&2; else rm -rf "$TMP"; fi
	fi
	exit $rc
}

bench_tmp() {
	TMP=$(mktemp -d /tmp/siaod-bench.XXXXXX)
	chmod 0755 "$TMP"
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
}

tcp_port_in_use() {
	local hex
	printf -v hex ':%04X' "$1"
	awk -v h="$hex" 'FNR > 1 && $4 == "0A" && substr($2, length($2) - 4) == h { f = 1 } END { exit !f }' \
		/proc/net/tcp /proc/net/tcp6 2>/dev/null
}
free_port() {   # first free TCP port (and PostgreSQL socket number) from $1
	local p=$1
	while tcp_port_in_use "$p" || grep -q "\.s\.PGSQL\.$p\$" /proc/net/unix; do ((p++)); done
	echo "$p"
}

# ------------------------------------------------------------------ PostgreSQL
# huge_pages_setup: PostgreSQL's huge_pages for this run (HUGE_PAGES: on or
# off, for pg_cluster's "huge_pages = $HUGE_PAGES" and the results), reserving
# enough 2 MiB pages for the cluster's 1 GB of shared buffers (the count is
# put back on exit). Without them, every new backend takes a page fault per
# 4 kB of shared memory the first time it touches it: on this machine's
# virtualisation that costs more than the queries of a freshly started
# daemon (a digest batch's first read: 90 ms of faults, 47 ms of work). A
# production server of this size runs with huge pages; BENCH_HUGE_PAGES=0
# measures without.
huge_pages_setup() {
	local need=600 total free   # 2 MiB pages: 1 GB of buffers and the rest of shared memory
	HUGE_PAGES=off
	if [[ ${BENCH_HUGE_PAGES:-1} != 0 && -w /proc/sys/vm/nr_hugepages ]]; then
		total=$(cat /proc/sys/vm/nr_hugepages)
		free=$(awk '/^HugePages_Free:/ { print $2 }' /proc/meminfo)
		if (( free < need )); then
			HUGE_PAGES_BEFORE=$total
			echo $(( total + need - free )) >/proc/sys/vm/nr_hugepages 2>/dev/null || true
		fi
		(( $(awk '/^HugePages_Free:/ { print $2 }' /proc/meminfo) >= need )) && HUGE_PAGES=on
	fi
	return 0
}

# pg_cluster durable|fast [LINE]...: a cluster in $TMP/data, unix socket only.
#   durable: fsync, synchronous_commit, full_page_writes on (the defaults):
#            a write is acknowledged once its commit is on disk;
#   fast:    none of it, as run_match_bench.sh (loads quickly, reads only).
# autovacuum is off in both: the scripts VACUUM (ANALYZE) explicitly, and
# nothing wakes up mid-measure. Extra lines are appended to postgresql.conf.
pg_cluster() {
	local mode=$1 line
	shift
	PGPORT=$(free_port 55600)
	say "PostgreSQL 15 cluster in $TMP ($mode, unix socket only, port $PGPORT)"
	chown postgres:postgres "$TMP"
	(cd / && runuser -u postgres -- "$PG_BIN/initdb" -D "$TMP/data" -A trust -U postgres \
		-E UTF8 --locale=C.UTF-8 >"$TMP/initdb.log" 2>&1) || { cat "$TMP/initdb.log" >&2; die "initdb failed"; }
	{
		echo "# tests/bench/lib.sh ($mode)"
		echo "listen_addresses = ''"
		echo "unix_socket_directories = '$TMP'"
		echo "port = $PGPORT"
		echo "max_connections = 200"
		echo "shared_buffers = 1GB"
		echo "effective_cache_size = 4GB"
		echo "work_mem = 16MB"
		echo "maintenance_work_mem = 512MB"
		echo "max_wal_size = 8GB"
		echo "checkpoint_timeout = 30min"
		echo "autovacuum = off"
		if [[ $mode == fast ]]; then
			echo "fsync = off"
			echo "synchronous_commit = off"
			echo "full_page_writes = off"
			echo "wal_level = minimal"
			echo "max_wal_senders = 0"
		else
			echo "fsync = on"
			echo "synchronous_commit = on"
			echo "full_page_writes = on"
		fi
		for line in "$@"; do echo "$line"; done
	} >>"$TMP/data/postgresql.conf"
	(cd / && runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$TMP/data" -l "$TMP/postgres.log" -w -t 60 start >/dev/null) \
		|| { tail -20 "$TMP/postgres.log" >&2; die "PostgreSQL did not start"; }
	PG_STARTED=1
	CONNINFO="host=$TMP port=$PGPORT user=postgres dbname=siaod"
	"$PG_BIN/psql" -X -q "host=$TMP port=$PGPORT user=postgres dbname=postgres" -c "CREATE DATABASE siaod"
}

psql_db() { PGOPTIONS="-c client_min_messages=warning -c search_path=api,public" "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 "$CONNINFO" "$@"; }

pg_setting() { psql_db -At -c "SHOW $1"; }

siaod_migrate() {
	SIAOD_DATABASE_URL=$CONNINFO "$SIAOD" migrate 2>"$TMP/migrate.log" \
		|| { cat "$TMP/migrate.log" >&2; die "siaod migrate failed"; }
}

# ------------------------------------------------------------------ CPU time
# cpu_ticks PID FIELD FIELD: the sum of those /proc/PID/stat fields
# (14 utime, 15 stime; 16 cutime, 17 cstime: children reaped)
cpu_ticks() {
	sed 's/^.*) //' "/proc/$1/stat" | awk -v a="$2" -v b="$3" '{ print $(a - 2) + $(b - 2) }'
}
# pg_ticks: CPU of the whole cluster: the postmaster's reaped children
# (backends that exited) plus every live child (siaod's pooled backends,
# walwriter, checkpointer...), so a measure needs no backend to exit.
pg_ticks() {
	local pm total pid
	pm=$(head -n1 "$TMP/data/postmaster.pid")
	total=$(( $(cpu_ticks "$pm" 14 15) + $(cpu_ticks "$pm" 16 17) ))
	for pid in $(ps -o pid= --ppid "$pm"); do
		[[ -r /proc/$pid/stat ]] && total=$(( total + $(cpu_ticks "$pid" 14 15 2>/dev/null || echo 0) ))
	done
	echo "$total"
}
# machine_ticks: busy and total jiffies of all cores (/proc/stat), "busy total"
machine_ticks() {
	awk '$1 == "cpu" { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t }' /proc/stat
}
per_ms() {      # per_ms TICKS0 TICKS1 COUNT: CPU milliseconds per unit
	awk -v t0="$1" -v t1="$2" -v n="$3" -v hz="$CLK_TCK" 'BEGIN { printf "%.3f", (n > 0 ? (t1 - t0) * 1000 / hz / n : 0) }'
}
cores_busy() {  # cores_busy TICKS0 TICKS1 SECONDS: cores kept busy on average
	awk -v t0="$1" -v t1="$2" -v s="$3" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", (s > 0 ? (t1 - t0) / hz / s : 0) }'
}

# ------------------------------------------------------------------ siaod
# siaod_start NAME [VAR=VALUE]...: serves on a free port with the bench's
# settings (the environment, SIAOD_<KEY>, as the tests do), the extra
# variables given, log to $TMP/NAME.log; waits for /readyz 200 from this
# siaod itself: other sessions start daemons on this machine too, so a port
# free a moment ago may be taken before siaod binds it (then another port is
# tried), and a 200 may come from someone else's daemon (only the listening
# socket of our own process counts).
siaod_start() {
	local name=$1 t try
	shift
	t=$(now)
	for try in 1 2 3 4 5; do
		PORT=$(free_port 18600)
		BASE=http://127.0.0.1:$PORT
		env -u SIAOD_DATABASE_URL SIAOD_LISTEN="127.0.0.1:$PORT" SIAOD_DATABASE_URL="$CONNINFO" \
			SIAOD_TIMEZONE="$TZ_NAME" SIAOD_LOG_LEVEL=warn SIAOD_RATE_LIMIT_PER_SECOND=0 "$@" \
			"$SIAOD" 2>"$TMP/$name.log" &
		SIAOD_PID=$!
		until pid_listens "$SIAOD_PID" "$PORT" \
			&& [[ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/readyz")" == 200 ]]; do
			if ! kill -0 "$SIAOD_PID" 2>/dev/null; then
				wait "$SIAOD_PID" 2>/dev/null || true
				SIAOD_PID=""
				grep -q 'Address already in use' "$TMP/$name.log" && continue 2
				cat "$TMP/$name.log" >&2
				die "siaod exited"
			fi
			sleep 0.05
		done
		SIAOD_READY_S=$(elapsed "$t" "$(now)")
		return 0
	done
	die "siaod found no free port in 5 tries"
}

# pid_listens PID PORT: PID holds the listening TCP socket of that port
pid_listens() {
	local hex inode
	printf -v hex ':%04X' "$2"
	for inode in $(awk -v h="$hex" 'FNR > 1 && $4 == "0A" && substr($2, length($2) - 4) == h { print $10 }' \
			/proc/net/tcp /proc/net/tcp6 2>/dev/null); do
		find "/proc/$1/fd" -lname "socket:\[$inode\]" 2>/dev/null | grep -q . && return 0
	done
	return 1
}

siaod_stop() {
	if [[ -n ${SIAOD_PID:-} ]] && kill -0 "$SIAOD_PID" 2>/dev/null; then
		kill -TERM "$SIAOD_PID"
		wait "$SIAOD_PID" 2>/dev/null || true
	fi
	SIAOD_PID=""
}

siaod_token() {   # an admin token, on stdout
	local token
	token=$(SIAOD_DATABASE_URL=$CONNINFO "$SIAOD" token create --role admin --label bench 2>/dev/null | tail -n1)
	[[ $token == siaod_* ]] || die "siaod token create printed no token"
	echo "$token"
}

# ------------------------------------------------------------------ nginx
# nginx_start NAME 'SERVER DIRECTIVES': a separate nginx (its own prefix in
# $TMP/NAME, worker_processes auto, no access log) on a free port.
nginx_start() {
	local name=$1 body=$2 prefix=$TMP/$1
	NGINX_PORT=$(free_port 18700)
	mkdir -p "$prefix/logs" "$prefix/www"
	cat >"$prefix/nginx.conf" <<EOF
worker_processes auto;
pid $prefix/nginx.pid;
error_log $prefix/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $prefix/tmp_body;
    proxy_temp_path $prefix/tmp_proxy;
    fastcgi_temp_path $prefix/tmp_fastcgi;
    uwsgi_temp_path $prefix/tmp_uwsgi;
    scgi_temp_path $prefix/tmp_scgi;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $prefix/www;
        $body
    }
}
EOF
	chmod -R a+rX "$prefix"
	nginx -p "$prefix/" -c "$prefix/nginx.conf"
	NGINX_PREFIXES+=("$prefix")
	local _
	for _ in $(seq 100); do [[ -s $prefix/nginx.pid ]] && break; sleep 0.05; done
	[[ -s $prefix/nginx.pid ]] || die "nginx $name did not start"
}

nginx_pids() {   # nginx_pids NAME: master and workers
	local m
	m=$(cat "$TMP/$1/nginx.pid")
	echo "$m $(ps -o pid= --ppid "$m" | tr '\n' ' ')"
}

# ------------------------------------------------------------------ national data set
# load_national SEED SCALE TODAY: gen_data.py's porteurs, offers, places, youth
# and stays, COPYed in two lanes (as run_match_bench.sh does), the stays into
# bench_stays and then placements (current ones active, past ones ended),
# the tables' own triggers off during the load; sequences set after.
load_national() {
	local seed=$1 scale=$2 today=$3 t lane
	gen() { python3 "$BENCH/gen_data.py" "$1" --seed "$seed" --scale "$scale" --today "$today"; }
	copy_in() {
		local table=$1 target=${2:-$1} t
		t=$(now)
		gen "$table" | psql_db -c "\\copy $target ($(python3 "$BENCH/gen_data.py" columns "$table")) FROM STDIN WITH (FORMAT csv)" \
			|| { echo "error: loading $target failed" >&2; return 1; }
		say "  $target: $(psql_db -At -c "SELECT count(*) FROM $target") rows in $(elapsed "$t" "$(now)") s"
	}
	psql_db -c "CREATE TABLE bench_stays (place_id bigint NOT NULL, youth_id bigint NOT NULL,
		start_date date NOT NULL, end_date date NOT NULL, CHECK (end_date > start_date))"
	for t in porteurs offers places youth; do psql_db -c "ALTER TABLE $t DISABLE TRIGGER USER"; done
	( copy_in porteurs && copy_in offers && copy_in places ) &
	lane=$!
	copy_in youth
	copy_in stays bench_stays
	wait "$lane" || die "loading porteurs, offers or places failed"
	t=$(now)
	psql_db <<EOF2
ALTER TABLE placements DISABLE TRIGGER USER;
INSERT INTO placements (youth_id, offer_id, place_id, status, start_date, planned_end_date,
    actual_end_date, exit_destination, created_on, entered_on)
SELECT s.youth_id, p.offer_id, s.place_id,
       CASE WHEN s.end_date > date '$today' THEN 'active' ELSE 'ended' END,
       s.start_date, s.end_date,
       CASE WHEN s.end_date > date '$today' THEN NULL ELSE s.end_date END,
       CASE WHEN s.end_date > date '$today' THEN NULL
            ELSE (ARRAY['durable_housing', 'fjt', 'family', 'institution', 'other_transitional',
                        'street', 'unknown'])[1 + (s.place_id + s.youth_id) % 7] END,
       s.start_date, s.start_date
FROM bench_stays s JOIN places p ON p.id = s.place_id;
ALTER TABLE placements ENABLE TRIGGER USER;
EOF2
	say "  placements (from bench_stays): $(psql_db -At -c "SELECT count(*) FROM placements") rows in $(elapsed "$t" "$(now)") s"
	psql_db -o /dev/null <<'EOF2'
SELECT setval('porteurs_id_seq', (SELECT max(id) FROM porteurs));
SELECT setval('offers_id_seq', (SELECT max(id) FROM offers));
SELECT setval('places_id_seq', (SELECT max(id) FROM places));
SELECT setval('youth_id_seq', (SELECT max(id) FROM youth));
SELECT setval('placements_id_seq', greatest(1, (SELECT max(id) FROM placements)));
EOF2
	for t in porteurs offers places youth; do psql_db -c "ALTER TABLE $t ENABLE TRIGGER USER"; done
}

# activate_stays WANT TODAY: gen_data.py keeps one current stay per placed
# young person (~16,000 at scale 1): the latest stay of other places, on
# which nothing is active, becomes active too, for a young person without an
# open placement, until WANT stays are active, with its planned end spread
# over the next year; that never overlaps another stay. The tables' own
# triggers are off meanwhile (no events: the benchmarks make their own).
activate_stays() {
	local want=$1 today=$2
	say "making $want stays active, planned ends over the next year"
	psql_db -v today="$today" -v want="$want" -o /dev/null <<'EOF2'
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
EOF2
}
