# scripts/common.sh: set-up shared by scripts/demo.sh and scripts/test.sh.
#
# Sourced, not run.  Installs what is missing from Debian, builds and
# installs jobchunk, and runs a throwaway PostgreSQL cluster as the
# unprivileged OS user postgres (PostgreSQL refuses to run as root).

set -euo pipefail

PG_MAJOR=${PG_MAJOR:-15}
PG_BIN=/usr/lib/postgresql/$PG_MAJOR/bin
export PG_CONFIG=$PG_BIN/pg_config
SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# The TAP tests' initdb takes the cluster's locale from the environment and
# refuses one that is not installed, as the locale an ssh or sudo session
# brings along often is not on a new machine: use C.UTF-8, which every
# Debian has.
export LANG=C.UTF-8
unset LANGUAGE "${!LC_@}"

# run COMMAND... as the postgres OS user, with the cluster's environment
as_postgres() {
	runuser -u postgres -- env PATH="$PG_BIN:$PATH" PGHOST="${PGHOST:-}" \
		PGPORT="${PGPORT:-}" PGUSER=postgres PGDATABASE=postgres "$@"
}

# install the Debian packages named as arguments that are not installed yet
install_packages() {
	local missing=()
	for pkg in "$@"; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" ||
			missing+=("$pkg")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		echo "== installing ${missing[*]}"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
	fi
}

# build with warnings as errors, and install into the server's directories
build_and_install() {
	echo "== building and installing jobchunk"
	make -C "$SRC_DIR" -s clean
	make -C "$SRC_DIR" -s WERROR=-Werror
	make -C "$SRC_DIR" -s install
}

# start a throwaway cluster in a new temporary directory; sets WORK_DIR,
# PGHOST and PGPORT, and stops and removes it all when the script exits
start_cluster() {
	WORK_DIR=$(mktemp -d /tmp/jobchunk.XXXXXX)
	chown postgres: "$WORK_DIR"
	chmod 755 "$WORK_DIR"
	export PGHOST=$WORK_DIR
	export PGPORT=${PGPORT:-54329}
	trap stop_cluster EXIT
	echo "== starting a throwaway cluster in $WORK_DIR/data"
	# UTF-8 whatever the caller's locale (none, in a container, gives SQL_ASCII)
	as_postgres initdb -D "$WORK_DIR/data" -U postgres -A trust \
		--encoding=UTF8 --locale=C.UTF-8 >/dev/null
	as_postgres pg_ctl -D "$WORK_DIR/data" -l "$WORK_DIR/server.log" -w \
		-o "-k $WORK_DIR -p $PGPORT -c listen_addresses=''" start >/dev/null
}

stop_cluster() {
	local status=$?
	if [ -n "${WORK_DIR:-}" ] && [ -f "$WORK_DIR/data/postmaster.pid" ]; then
		as_postgres pg_ctl -D "$WORK_DIR/data" -m fast -w stop >/dev/null || true
	fi
	[ -n "${WORK_DIR:-}" ] && rm -rf "$WORK_DIR"
	exit "$status"
}

if [ "$(id -u)" -ne 0 ]; then
	echo "run this as root: it installs packages and runs PostgreSQL as the postgres user" >&2
	exit 1
fi
