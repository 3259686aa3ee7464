#!/usr/bin/env bash
# test/bench/instructions.sh: the CPU instructions of a worker's cycle, for
# jobchunk and run.sh's baselines, counted by valgrind's callgrind.
#
# Run as root:   bash test/bench/instructions.sh [--no-build]
#
# run.sh's throughput moves by a third between runs on a shared machine;
# the instructions a backend executes for the same statements on the same
# data do not.  So this runs the server under callgrind (autovacuum off,
# jobchunk.rescan_interval 60 s, run.sh's other settings), and each system's run.sh script at one client
# twice, for FEW and then for MANY chunks, each run in a backend of its own.
# The difference of the two backends' counts divided by MANY - FEW is one
# cycle's, without the one-time costs (connecting, filling the catalog
# caches, preparing the statements).  Batch systems are counted per chunk:
# their runs are of FEW / n and MANY / n claims of n.
#
# What it does not count: the kernel's work for the backend's system calls
# (WAL writes and flushes, waking the WAL writer, the socket), the other
# server processes, and waiting.  It is the CPU work of the backend in user
# space, in which the systems differ; not a substitute for run.sh.
#
# The systems are run.sh's (its header says what each does), less PgQ, and
# one more: B1c, B1 whose two statements also keep the job's counts as
# jobchunk's do (a CTE that adds the change to the client's stripe of a
# table like job_counts, INSERT ... ON CONFLICT DO UPDATE): what exact
# progress costs a hand-written queue.
#
# Prints one table: instructions per cycle, as a ratio to B0 and B1, and
# the share of them in executor start-up (ExecutorStart, at every level:
# the top statement's and those that jobchunk's functions run through SPI).
# Settings, from the environment: FEW (500), MANY (2500), PGPORT (54338).
# PgQ is left out: its batches need run.sh's ticks.  About 2 minutes here.

source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../../scripts/common.sh"
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/systems.sh"

BUILD=1
for arg in "$@"; do
	case $arg in
	--no-build) BUILD=0 ;;
	-h | --help) sed -n '2,/^$/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "unknown argument: $arg (see --help)" >&2; exit 2 ;;
	esac
done
FEW=${FEW:-500}
MANY=${MANY:-2500}
[ "$MANY" -gt "$FEW" ] && [ $((FEW % 50)) = 0 ] && [ $((MANY % 50)) = 0 ] ||
	{ echo "FEW and MANY must be multiples of 50, MANY more than FEW" >&2; exit 2; }
export PGPORT=${PGPORT:-54338}
# shellcheck disable=SC2034 # read by create_systems (systems.sh)
PGQ_BATCH=50 PGQ_CONSUMERS=1
SYSTEMS=(B0 B1 B1a B1c B2 jobchunk jobchunk-n10 jobchunk-n50)
declare -A BATCH=([B0]=1 [B1]=1 [B1a]=1 [B1c]=1 [B2]=1 [jobchunk]=1 [jobchunk-n10]=10 [jobchunk-n50]=50)
declare -A JOB=()

die() { echo "instructions: $*" >&2; exit 1; }
sql() { as_postgres psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }

install_packages make gcc "postgresql-$PG_MAJOR" "postgresql-server-dev-$PG_MAJOR" \
	"postgresql-$PG_MAJOR-pgq3" valgrind >&2
if [ "$BUILD" = 1 ]; then
	build_and_install >&2
elif [ ! -f "$("$PG_CONFIG" --sharedir)/extension/jobchunk.control" ]; then
	die "--no-build, but jobchunk is not installed"
fi
start_cluster >&2
for setting in "${SETTINGS[@]}" autovacuum=off max_parallel_workers_per_gather=0; do
	sql -c "ALTER SYSTEM SET ${setting%%=*} = '${setting#*=}'"
done
create_systems
# Under callgrind a cycle runs some 30 times slower.  A claim starts again
# from the head of its job once jobchunk.rescan_interval has passed: 60 s
# keeps that as rare per cycle as the default 1 s at full speed, and the
# count independent of how fast the machine runs.  (The library must be
# loaded for ALTER SYSTEM to know the parameter.)
sql -c "LOAD 'jobchunk'" -c "ALTER SYSTEM SET jobchunk.rescan_interval = '60s'"
write_scripts "$WORK_DIR"
# every queue gets a job of as many chunks as both runs take, and some more
for sys in "${SYSTEMS[@]}"; do
	[ "$sys" = B0 ] && continue
	JOB[$sys]=$(new_job "${sys%%-*}" $((FEW + MANY + 1000)))
done
sql -c "VACUUM ANALYZE" -c "CHECKPOINT"

# the server again, under callgrind; each backend writes its counts to
# $CG/callgrind.PID when it exits
as_postgres pg_ctl -D "$WORK_DIR/data" -m fast -w stop >/dev/null
CG=$WORK_DIR/callgrind
mkdir -p "$CG"
chown postgres: "$CG"
as_postgres valgrind --tool=callgrind --callgrind-out-file="$CG/callgrind.%p" \
	postgres -D "$WORK_DIR/data" -k "$WORK_DIR" -p "$PGPORT" -c listen_addresses='' \
	>"$WORK_DIR/valgrind.log" 2>&1 &
# On exit, stop it and wait for valgrind, which writes the postmaster's file
# after pg_ctl has seen the server gone, before the directory is removed.
stop_under_valgrind() {
	local status=$?
	as_postgres pg_ctl -D "$WORK_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
	wait
	(exit "$status")
	stop_cluster
}
trap stop_under_valgrind EXIT
for _ in $(seq 240); do
	as_postgres pg_isready -q && break
	sleep 0.5
done
as_postgres pg_isready -q || die "the server did not start under valgrind: $(tail -n 5 "$WORK_DIR/valgrind.log")"

# the instructions counted in a callgrind file
total() { sed -n 's/^totals: //p' "$1"; }

# the server's processes: its backends come and go, the others stay
children() { ps -o pid= --ppid "$(head -n 1 "$WORK_DIR/data/postmaster.pid")" | sort; }

# run SYSTEM's script for N chunks, and print the callgrind file of the
# backend that ran it, once the processes started since have exited and
# written their files (pgbench opens a second connection, which runs little:
# the file with the most instructions is the one)
counted_run() {
	local sys=$1 n=$2 before stay new
	before=$(ls "$CG")
	stay=$(children)
	# shellcheck disable=SC2046 # the -D settings are words
	as_postgres pgbench -n -M prepared -c 1 -t $((n / BATCH[$sys])) \
		$([ "$sys" = B0 ] || echo "-D job=${JOB[$sys]} -D batch=${BATCH[$sys]}") \
		-f "$WORK_DIR/$sys.sql" >"$WORK_DIR/pgbench-$sys-$n.log" 2>&1 ||
		die "pgbench failed for $sys: $(tail -n 5 "$WORK_DIR/pgbench-$sys-$n.log")"
	for _ in $(seq 600); do
		[ -z "$(comm -13 <(echo "$stay") <(children))" ] && break
		sleep 0.5
	done
	[ -z "$(comm -13 <(echo "$stay") <(children))" ] || die "the backends of $sys's run did not exit"
	new=$(comm -13 <(echo "$before") <(ls "$CG"))
	[ -n "$new" ] || die "no callgrind file from the backends of $sys's run"
	for f in $new; do
		tail -n 1 "$CG/$f" | grep -q '^totals:' || die "callgrind file $f is incomplete"
	done
	for f in $new; do echo "$(total "$CG/$f") $CG/$f"; done |
		sort -n | tail -n 1 | cut -d' ' -f2
}

# the inclusive count of FUNCTION in a callgrind file (0 when absent)
inclusive() {
	callgrind_annotate --inclusive=yes --threshold=100 --auto=no "$1" 2>/dev/null |
		awk -v f="$2" '$0 ~ (":" f " \\[") { gsub(",", "", $1); print $1; found = 1; exit }
			END { if (!found) print 0 }'
}

declare -A PER_CYCLE=() START_SHARE=()
for sys in "${SYSTEMS[@]}"; do
	echo "== $sys" >&2
	few=$(counted_run "$sys" "$FEW")
	many=$(counted_run "$sys" "$MANY")
	cycles=$((MANY - FEW))
	PER_CYCLE[$sys]=$((($(total "$many") - $(total "$few")) / cycles))
	START_SHARE[$sys]=$(awk -v a="$(inclusive "$many" ExecutorStart)" \
		-v b="$(inclusive "$few" ExecutorStart)" -v c="${PER_CYCLE[$sys]}" -v n="$cycles" \
		'BEGIN { printf "%.1f", 100 * (a - b) / n / c }')
done

echo
echo "# instructions per cycle (user space, one backend), $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "server: $(as_postgres psql -X -At -c 'SELECT version()'); jobchunk $(as_postgres psql -X -At -c \
	"SELECT extversion FROM pg_extension WHERE extname = 'jobchunk'") (tree $(git -C "$SRC_DIR" \
	rev-parse --short HEAD 2>/dev/null || echo "not a git tree")); cycles $((MANY - FEW)) at 1 client"
printf '%-14s %14s %7s %7s %15s\n' system instructions "x B0" "x B1" "ExecutorStart %"
for sys in "${SYSTEMS[@]}"; do
	printf '%-14s %14d %7.2f %7.2f %15s\n' "$sys" "${PER_CYCLE[$sys]}" \
		"$(awk -v a="${PER_CYCLE[$sys]}" -v b="${PER_CYCLE[B0]}" 'BEGIN { print a / b }')" \
		"$(awk -v a="${PER_CYCLE[$sys]}" -v b="${PER_CYCLE[B1]}" 'BEGIN { print a / b }')" \
		"${START_SHARE[$sys]}"
done
echo "(batch systems: per chunk)"
