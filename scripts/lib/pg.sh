# shellcheck shell=bash
# scripts/lib/pg.sh: private PostgreSQL 15 clusters for development and tests.
# Sourced after common.sh. A cluster is one directory holding the data
# directory (data/), the unix socket, the log (postgres.log) and its port
# number (port). It listens on the unix socket only.
#
# initdb refuses to run as root, so as root the cluster belongs to the
# `postgres` user, and its directory must be somewhere that user can enter
# (under /tmp, never inside a checkout under /root). As another user the
# cluster simply belongs to that user.

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

# Run a PostgreSQL server program as the cluster's owner, from / so that the
# postgres user never trips over a working directory it cannot enter.
pg_as_owner() {
	if (( EUID == 0 )); then
		(cd / && runuser -u postgres -- "$@")
	else
		(cd / && "$@")
	fi
}

# Give a directory to the cluster's owner.
pg_own() {
	if (( EUID == 0 )); then
		chown postgres:postgres "$1"
	fi
}

# True when a PostgreSQL socket for port $1 exists anywhere on this machine,
# or something listens on that TCP port.
pg_port_in_use() {
	tcp_port_in_use "$1" || grep -q "\.s\.PGSQL\.$1\$" /proc/net/unix 2>/dev/null
}

# Print the first free port from 55432 on.
pg_free_port() {
	local port=55432
	while pg_port_in_use "$port"; do
		(( port++ ))
		(( port < 56432 )) || die "no free port for PostgreSQL between 55432 and 56431"
	done
	echo "$port"
}

# libpq conninfo for the cluster in $1 and database $2 (default postgres).
pg_conninfo() {
	echo "host=$1 port=$(<"$1/port") user=postgres dbname=${2:-postgres}"
}

# Create a cluster in the existing directory $1 on a free port, once: a
# directory that already holds a finished cluster is left alone, one whose
# initdb never finished (killed run) is wiped and made again.
#   pg_init DIR [postgresql.conf lines...]
pg_init() {
	local dir=$1; shift
	[[ -f $dir/initdb.done ]] && return 0
	rm -rf "$dir/data"
	pg_own "$dir"
	chmod 0755 "$dir"           # the socket must be reachable by its clients
	local port
	port=$(pg_free_port)
	say "creating a PostgreSQL cluster in $dir (port $port, unix socket only)"
	pg_as_owner "$PG_BIN/initdb" -D "$dir/data" -A trust -U postgres --auth-local=trust \
		-E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
		|| { cat "$dir/initdb.log" >&2; die "initdb failed in $dir/data"; }
	{
		echo
		echo "# written by scripts/lib/pg.sh"
		echo "listen_addresses = ''"
		echo "unix_socket_directories = '$dir'"
		echo "port = $port"
		local line
		for line in "$@"; do echo "$line"; done
	} >>"$dir/data/postgresql.conf"
	echo "$port" >"$dir/port"
	touch "$dir/initdb.done"
}

# True when the postmaster named in the cluster's postmaster.pid is alive and
# really serves this data directory (a killed run can leave a pid file whose
# number now belongs to another process).
pg_running() {
	local data=$1/data pid
	[[ -f $data/postmaster.pid ]] || return 1
	pid=$(head -n1 "$data/postmaster.pid" 2>/dev/null) || return 1
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	[[ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" == "$(readlink -f "$data")" ]]
}

# Start the cluster in $1 unless it already runs.
pg_start() {
	local dir=$1
	pg_running "$dir" && return 0
	# Leftovers of a run that was killed: the server is not running, so they
	# are stale, and removing them spares postgres guessing about reused pids.
	rm -f "$dir/data/postmaster.pid" "$dir"/.s.PGSQL.*
	say "starting PostgreSQL ($dir, port $(<"$dir/port"))"
	pg_as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 start >/dev/null \
		|| { tail -n 20 "$dir/postgres.log" >&2; die "PostgreSQL did not start (log: $dir/postgres.log)"; }
}

# Stop the cluster in $1 if it runs. $2: shutdown mode (default fast).
pg_stop() {
	local dir=$1 mode=${2:-fast}
	pg_running "$dir" || return 0
	say "stopping PostgreSQL ($dir)"
	pg_as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -m "$mode" -w -t 60 stop >/dev/null
}

# psql against the cluster in $1, database $2; the rest are psql arguments.
pg_psql() {
	local dir=$1 db=$2; shift 2
	"$PG_BIN/psql" -X -v ON_ERROR_STOP=1 "$(pg_conninfo "$dir" "$db")" "$@"
}
