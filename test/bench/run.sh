#!/usr/bin/env bash
# test/bench/run.sh: jobchunk against the hand-written queue, PL/pgSQL, PgQ
# and the bare limit, on one server, in one run.
#
# Run as root:   bash test/bench/run.sh [--quick] [--no-build] [--results DIR]
#
# What it does (test/bench/README.md says more, and how to read the table):
#   - installs what is missing (PostgreSQL 15, its server headers, make, gcc,
#     postgresql-15-pgq3, gnuplot-nox), builds and installs jobchunk (skip with
#     --no-build to measure the library already installed), and starts a
#     throwaway cluster (scripts/common.sh), configured as below;
#   - measures, with pgbench -M prepared, a worker's cycle (claim, then
#     complete, each its own transaction) for every system at every client
#     count, interleaved: for each client count, every system in turn;
#   - prints the machine, the server settings and one table on stdout
#     (progress goes to stderr), and writes results.csv, the pgbench logs and
#     scripts, and throughput.png (gnuplot) into the results directory.
#
# Systems (a "cycle" is one worker's claim + complete; batch systems count
# chunks or events, so their cycles/s are chunks/s or events/s):
#   B0            two single-row UPDATE ... WHERE id = $1 transactions on a
#                 100,000-row table, random id each: the limit
#   B1            the hand-written queue: UPDATE ... WHERE id = (SELECT ... FOR
#                 UPDATE SKIP LOCKED LIMIT 1) RETURNING, then UPDATE ... SET
#                 status = 'completed', on a copy of jobchunk.job_chunks
#                 (LIKE ... INCLUDING ALL: the same columns, checks, indexes;
#                 and its storage options)
#   B1a           B1 with its claim committed without waiting for the WAL flush,
#                 as jobchunk's claims are (set_config('synchronous_commit',
#                 'off', true) in the claim statement), on another copy
#   B2            the same two statements as B1 as PL/pgSQL functions, on
#                 another copy
#   jobchunk      jc_next_pending(job) + jc_mark_completed(id, token)
#   jobchunk-n10  jc_claim(job, 10) + jc_mark_completed(ids, tokens)
#   jobchunk-n50  jc_claim(job, 50) + jc_mark_completed(ids, tokens)
#   pgq           PgQ 3.5: next_batch + get_batch_events (one transaction),
#                 finish_batch (another), batches of $PGQ_BATCH events
#   jobchunk-32jobs, jobchunk-1job (only at 32 clients, one right after the
#                 other, each on jobs made for it): jobchunk's cycle with each
#                 client on a job of its own, and with all 32 on one job of as
#                 many chunks as the 32 together: "one hot job"
#
# Server settings, the same for every system (ALTER SYSTEM, then a restart):
#   shared_buffers=1GB, max_connections=100, synchronous_commit=on, fsync=on
#   (durable commits, as a real queue runs: at low client counts the WAL flush
#   dominates every system alike), max_wal_size=8GB, checkpoint_timeout=30min
#   and an explicit CHECKPOINT before every run (no checkpoint inside a run),
#   maintenance_work_mem=256MB, effective_cache_size=4GB, jit=off; autovacuum
#   and everything else at PostgreSQL's defaults.
#
# Before every run: a VACUUM of the benchmark's tables, so that no run pays
# for the dead rows of the one before, and a CHECKPOINT (and an ANALYZE after
# every new backlog).  Inside a run autovacuum works as it would in
# production.
#
# Backlog: no run may drain its queue.  Every queue system has a job (PgQ: a
# prefilled, pre-ticked queue) with at least BACKLOG_FACTOR times the most it
# has been measured to consume in a run; when a job runs low the next run gets
# a new job of twice that (jobchunk: SET jobchunk.chunk_size = 1, one chunk per
# image; B1 and B2: the same rows), and the old job's pending chunks are
# cancelled (jc_cancel_job; B1, B2: set failed), so that only the jobs in use
# have pending chunks, while completed jobs pile up in the tables as they do
# in production.  PgQ: no ticker runs during the measurement; the set-up inserts
# the events $PGQ_BATCH at a time and calls pgq.ticker() after each group, so
# every batch holds exactly $PGQ_BATCH events.  PgQ hands each event of a queue
# to every consumer (work sharing needs pgq_coop, not packaged in Debian), so
# each client is a consumer of its own, and all are put back to the start of
# the backlog before every run (pgq.register_consumer_at); events/s counts
# events delivered to consumers.  A run that drains its queue anyway is
# detected (the scripts check every claim), the backlog grown, and the run
# repeated.
#
# Exits non-zero when a pgbench run fails for any other reason, processes no
# transaction, or when the tables show less work done (chunks completed, PgQ
# events finished, B0 rows updated) than pgbench counted.  It asserts no
# speed: it is a benchmark, not a test.
#
# Settings, from the environment: RESULTS_DIR (/tmp/jobchunk-bench-<date>),
# DURATION (seconds per point: 15, quick 5), CLIENTS ("1 2 4 8 16 32", quick
# "1 8 32"), WARMUP (2 s, quick 1 s), PGQ_BATCH (50), BACKLOG_FACTOR (2),
# PGPORT (54339), ONLY (a subset of the systems, e.g. "B0 B1 jobchunk"),
# HOT_ROUNDS (3: rounds of the one-hot-job pair).

source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../../scripts/common.sh"
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/systems.sh"

QUICK=0
BUILD=1
while [ $# -gt 0 ]; do
	case $1 in
	--quick) QUICK=1 ;;
	--no-build) BUILD=0 ;;
	--results) RESULTS_DIR=$2; shift ;;
	-h | --help) sed -n '2,/^$/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done

if [ "$QUICK" = 1 ]; then
	DURATION=${DURATION:-5}
	CLIENTS=${CLIENTS:-"1 8 32"}
	WARMUP=${WARMUP:-1}
else
	DURATION=${DURATION:-15}
	CLIENTS=${CLIENTS:-"1 2 4 8 16 32"}
	WARMUP=${WARMUP:-2}
fi
PGQ_BATCH=${PGQ_BATCH:-50}
BACKLOG_FACTOR=${BACKLOG_FACTOR:-2}
HOT_CLIENTS=32
HOT_ROUNDS=${HOT_ROUNDS:-3}
[[ $HOT_ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "HOT_ROUNDS must be a whole number of 1 or more" >&2; exit 2; }
START_DATE=$(date -u +%Y%m%d-%H%M%S)
RESULTS_DIR=${RESULTS_DIR:-/tmp/jobchunk-bench-$START_DATE}
export PGPORT=${PGPORT:-54339}
NPROC=$(nproc)
START_SECONDS=$SECONDS

SHOWN_SETTINGS="'shared_buffers','max_connections','synchronous_commit','fsync',
	'full_page_writes','wal_level','max_wal_size','checkpoint_timeout','work_mem',
	'maintenance_work_mem','effective_cache_size','jit','random_page_cost',
	'autovacuum','autovacuum_naptime','autovacuum_max_workers',
	'autovacuum_vacuum_scale_factor','autovacuum_vacuum_threshold',
	'autovacuum_vacuum_insert_scale_factor','autovacuum_vacuum_cost_limit',
	'autovacuum_vacuum_cost_delay'"

# Every system, in the order of the table: name, items per pgbench
# transaction, and the rate (items/s) a first backlog is sized for before
# anything is measured (the warm-up then measures it).
SYSTEMS=(B0 B1 B1a B2 jobchunk jobchunk-n10 jobchunk-n50 pgq)
declare -A BATCH=([B0]=1 [B1]=1 [B1a]=1 [B2]=1 [jobchunk]=1 [jobchunk-n10]=10
	[jobchunk-n50]=50 [pgq]=$PGQ_BATCH [jobchunk-32jobs]=1 [jobchunk-1job]=1)
declare -A GUESS=([B0]=0 [B1]=3000 [B1a]=3000 [B2]=3000 [jobchunk]=3000 [jobchunk-n10]=10000
	[jobchunk-n50]=25000 [pgq]=20000 [jobchunk-32jobs]=3000 [jobchunk-1job]=3000)
declare -A EST=()	# most items/s per job (PgQ: per consumer) seen so far
declare -A JOB=()	# the job each queue system's runs take chunks from
JOBS32=""		# "first last" job ids of jobchunk-32jobs

# progress, on stderr, with the minutes and seconds since the start
log() { printf '%2d:%02d %s\n' $(((SECONDS - START_SECONDS) / 60)) $(((SECONDS - START_SECONDS) % 60)) "$*" >&2; }
die() { echo "bench: $*" >&2; exit 1; }

if [ -n "${ONLY:-}" ]; then
	for sys in $ONLY; do
		[[ " ${SYSTEMS[*]} " == *" $sys "* ]] || die "ONLY: no system $sys (there are ${SYSTEMS[*]})"
	done
	kept=()
	for sys in "${SYSTEMS[@]}"; do [[ " $ONLY " == *" $sys "* ]] && kept+=("$sys"); done
	SYSTEMS=("${kept[@]}")
fi
read -ra CLIENT_LIST <<<"$CLIENTS"
# PgQ consumers c0, c1, ...: one per client of the largest run
PGQ_CONSUMERS=$HOT_CLIENTS
for c in "${CLIENT_LIST[@]}"; do [ "$c" -gt "$PGQ_CONSUMERS" ] && PGQ_CONSUMERS=$c; done
HOT_JOB=0	# the "one hot job" pair runs with jobchunk
[[ " ${SYSTEMS[*]} " == *" jobchunk "* ]] && HOT_JOB=1

# run SQL as the postgres user: unaligned, tuples only, stopping at an error
sql() { as_postgres psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }

# arithmetic on decimals
calc() { awk "BEGIN { $1 }"; }

#
# Set-up
#
install_packages make gcc "postgresql-$PG_MAJOR" "postgresql-server-dev-$PG_MAJOR" \
	"postgresql-$PG_MAJOR-pgq3" gnuplot-nox >&2
if [ "$BUILD" = 1 ]; then
	build_and_install >&2
elif [ ! -f "$("$PG_CONFIG" --sharedir)/extension/jobchunk.control" ]; then
	die "--no-build, but jobchunk is not installed"
fi
start_cluster >&2
mkdir -p "$RESULTS_DIR/pgbench" "$RESULTS_DIR/scripts"
SCRIPTS=$WORK_DIR/scripts	# readable by the postgres user wherever RESULTS_DIR is
mkdir -p "$SCRIPTS"

for setting in "${SETTINGS[@]}"; do
	sql -c "ALTER SYSTEM SET ${setting%%=*} = '${setting#*=}'"
done
as_postgres pg_ctl -D "$WORK_DIR/data" -l "$WORK_DIR/server.log" -w -m fast \
	-o "-k $WORK_DIR -p $PGPORT -c listen_addresses=''" restart >/dev/null

log "== creating the systems"
create_systems

write_scripts "$SCRIPTS"
cp "$SCRIPTS"/*.sql "$RESULTS_DIR/scripts/"

#
# Backlogs
#
# A job that has run low leaves the queue: its pending chunks fail, so that
# only the jobs in use have pending chunks.  (B1's claim, in the order
# (priority, created_at, id), is served by the index across jobs, led by
# priority, and would step over the pending chunks of every other job.)
retire_job() {
	local sys=$1 job=$2
	case $sys in
	B1 | B1a | B2)
		sql -c "UPDATE bench.${sys,,}_chunks SET status = 'failed',
			error_message = 'job retired', updated_at = now()
			WHERE job_id = $job AND status = 'pending'" >/dev/null ;;
	*) sql -c "SELECT jobchunk.jc_cancel_job($job)" >/dev/null ;;
	esac
}

retire_32jobs() {
	local i
	[ -n "$JOBS32" ] || return 0
	for ((i = ${JOBS32% *}; i <= ${JOBS32#* }; i++)); do retire_job jobchunk "$i"; done
	JOBS32=""
}

# the chunk table and job condition of a queue system
chunk_table() {
	case $1 in B1 | B1a | B2) echo "bench.${1,,}_chunks" ;; *) echo jobchunk.job_chunks ;; esac
}
job_condition() {
	if [ "$1" = jobchunk-32jobs ]; then
		echo "job_id BETWEEN ${JOBS32% *} AND ${JOBS32#* }"
	else
		echo "job_id = ${JOB[$1]}"
	fi
}

# "pending completed" of the system's job(s)
job_counts() {
	sql -F ' ' -c "SELECT count(*) FILTER (WHERE status = 'pending'),
		count(*) FILTER (WHERE status = 'completed')
		FROM $(chunk_table "$1") WHERE $(job_condition "$1")"
}

# PgQ: add N events, $PGQ_BATCH per transaction, a tick after each.  The
# first group of all makes no tick (the event id sequence starts one ahead of
# the registration tick), so the first batch holds two groups; the consumers
# start from the tick that ends it, after which every batch holds exactly
# $PGQ_BATCH events (which the pgbench script checks).
PGQ_START_TICK=""
PGQ_EVENTS=0
pgq_add_events() {
	local groups=$(( ($1 + PGQ_BATCH - 1) / PGQ_BATCH )) before
	before=$(sql -c "SELECT max(tick_id) FROM pgq.tick")
	sql -c "SET synchronous_commit = off" -c "
		DO \$\$
		DECLARE
			t bigint;
		BEGIN
			FOR g IN 0 .. $groups - 1 LOOP
				PERFORM pgq.insert_event('bench', 'chunk',
					jsonb_build_object('start', i, 'end', i)::text)
				FROM generate_series($PGQ_EVENTS + g * $PGQ_BATCH,
					$PGQ_EVENTS + (g + 1) * $PGQ_BATCH - 1) AS i;
				COMMIT;
				t := pgq.ticker('bench');
				IF t IS NULL AND g > 0 THEN
					RAISE EXCEPTION 'pgq.ticker made no tick after % events', $PGQ_BATCH;
				END IF;
				COMMIT;
			END LOOP;
		END
		\$\$" -c "ANALYZE pgq.event_1, pgq.event_1_0, pgq.event_1_1, pgq.event_1_2, pgq.tick"
	PGQ_EVENTS=$((PGQ_EVENTS + groups * PGQ_BATCH))
	if [ -z "$PGQ_START_TICK" ]; then
		PGQ_START_TICK=$(sql -c "SELECT min(tick_id) FROM pgq.tick WHERE tick_id > $before")
	fi
}

# events each consumer has ahead of it from the start tick
pgq_remaining() {
	if [ -z "$PGQ_START_TICK" ]; then echo 0; return; fi
	sql -c "SELECT max(tick_event_seq) - (SELECT tick_event_seq FROM pgq.tick
		WHERE tick_id = $PGQ_START_TICK) FROM pgq.tick"
}

# events the first N consumers have finished since the start tick
pgq_consumed() {
	sql -c "SELECT coalesce(sum(t.tick_event_seq - t0.tick_event_seq), 0)
		FROM pgq.subscription AS s
		JOIN pgq.consumer AS c ON c.co_id = s.sub_consumer
		JOIN pgq.tick AS t ON t.tick_queue = s.sub_queue AND t.tick_id = s.sub_last_tick
		JOIN pgq.tick AS t0 ON t0.tick_queue = s.sub_queue AND t0.tick_id = $PGQ_START_TICK
		WHERE c.co_name IN (SELECT 'c' || i FROM generate_series(0, $1 - 1) AS i)"
}

# the system whose measured rate sizes SYSTEM's backlog: the one-hot-job
# pair is sized by jobchunk's
rate_system() {
	case $1 in jobchunk-32jobs | jobchunk-1job) echo jobchunk ;; *) echo "$1" ;; esac
}

# make sure the next run of SYSTEM, SECONDS long, cannot drain its queue
ensure_backlog() {
	local sys=$1 seconds=$2 rate need have
	[ "$sys" = B0 ] && return
	rate=${EST[$(rate_system "$sys")]:-0}
	need=$(calc "r = $BACKLOG_FACTOR * $rate; if (r < ${GUESS[$sys]}) r = ${GUESS[$sys]};
		printf \"%d\", r * ($seconds + 2) + 1000")
	case $sys in
	pgq)
		have=$(pgq_remaining)
		if [ "$have" -lt "$need" ]; then
			log "   backlog: $((need - have)) more PgQ events"
			pgq_add_events $((need - have))
		fi
		;;
	jobchunk-32jobs)
		# each client drains its own job, at 1/32 of the whole; the least
		# filled job decides, and a new set is made when it runs low
		local per_job=$((2 * need / HOT_CLIENTS + 1000)) low=0
		if [ -n "$JOBS32" ]; then
			low=$(sql -c "SELECT min(p) FROM (SELECT count(*) FILTER
				(WHERE status = 'pending') AS p FROM jobchunk.job_chunks
				WHERE $(job_condition "$sys") GROUP BY job_id) AS per_job")
		fi
		if [ -z "$JOBS32" ] || [ "$low" -lt $((need / HOT_CLIENTS + 1000)) ]; then
			log "   backlog: $HOT_CLIENTS jobchunk jobs of $per_job chunks"
			local first last
			retire_32jobs
			read -r first last < <(sql -F ' ' -c "WITH j AS (INSERT INTO jobchunk.crawl_jobs (name)
				SELECT '$sys' FROM generate_series(1, $HOT_CLIENTS) RETURNING id)
				SELECT min(id), max(id) FROM j")
			[ $((last - first)) -eq $((HOT_CLIENTS - 1)) ] ||
				die "the $HOT_CLIENTS jobs have ids $first .. $last, not consecutive"
			sql -c "SET synchronous_commit = off" -c "SET jobchunk.chunk_size = 1" \
				-c "SELECT count(*) FROM generate_series($first, $last) AS j,
					jobchunk.jc_create_chunks(j, $per_job)" \
				-c "ANALYZE jobchunk.job_chunks, jobchunk.crawl_jobs, jobchunk.job_counts" >/dev/null
			JOBS32="$first $last"
		fi
		;;
	jobchunk-1job)
		# a new job every time, as many chunks as jobchunk-32jobs makes
		local chunks=$((HOT_CLIENTS * (2 * need / HOT_CLIENTS + 1000)))
		log "   backlog: a new jobchunk job of $chunks chunks"
		[ -n "${JOB[$sys]:-}" ] && retire_job jobchunk "${JOB[$sys]}"
		JOB[$sys]=$(new_job jobchunk "$chunks")
		sql -c "ANALYZE jobchunk.job_chunks, jobchunk.crawl_jobs, jobchunk.job_counts" >/dev/null
		;;
	*)
		have=0
		[ -n "${JOB[$sys]:-}" ] && read -r have _ < <(job_counts "$sys")
		if [ "$have" -lt "$need" ]; then
			log "   backlog: a new $sys job of $((2 * need)) chunks"
			[ -n "${JOB[$sys]:-}" ] && retire_job "$sys" "${JOB[$sys]}"
			JOB[$sys]=$(new_job "$sys" $((2 * need)))
		fi
		;;
	esac
}

#
# Measuring
#
# the benchmark's tables of a system, for pg_stat_user_tables
stats_filter() {
	case $1 in
	B0) echo "schemaname = 'bench' AND relname = 'b0'" ;;
	B1 | B1a | B2) echo "schemaname = 'bench' AND relname LIKE '${1,,}\\_%'" ;;
	pgq) echo "schemaname = 'pgq'" ;;
	*) echo "schemaname = 'jobchunk'" ;;
	esac
}

# "dead hot_upd upd autovacuums" summed over the system's tables, once the
# last pgbench backend is gone (a backend reports its counts as it exits,
# before it leaves pg_stat_activity)
table_stats() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(sql -c "SELECT count(*) FROM pg_stat_activity
			WHERE application_name = 'pgbench'")" = 0 ] && break
		sleep 0.1
	done
	sql -F ' ' -c "SELECT coalesce(sum(n_dead_tup), 0), coalesce(sum(n_tup_hot_upd), 0),
		coalesce(sum(n_tup_upd), 0), coalesce(sum(autovacuum_count), 0)
		FROM pg_stat_user_tables WHERE $(stats_filter "$1")"
}

# pgbench -D settings of a system
pgbench_vars() {
	case $1 in
	B0) ;;
	pgq) echo "-D batch=$PGQ_BATCH" ;;
	jobchunk-32jobs) echo "-D first_job=${JOBS32% *}" ;;
	*) echo "-D job=${JOB[$1]} -D batch=${BATCH[$1]}" ;;
	esac
}

# did the last run of SYSTEM empty its queue?
drained() {
	local sys=$1 clients=$2
	case $sys in
	B0) return 1 ;;
	pgq)
		# a consumer that found no next batch stands on the last tick
		[ "$(sql -c "SELECT count(*) FROM pgq.subscription
			WHERE sub_last_tick = (SELECT max(tick_id) FROM pgq.tick)")" -gt 0 ] ;;
	jobchunk-32jobs)
		[ "$(sql -c "SELECT count(*) FROM (SELECT job_id FROM jobchunk.job_chunks
			WHERE $(job_condition "$sys") GROUP BY job_id
			HAVING count(*) FILTER (WHERE status = 'pending') = 0) AS empty")" -gt 0 ] ;;
	*)
		local pending
		read -r pending _ < <(job_counts "$sys")
		[ "$pending" -lt $((clients * BATCH[$sys])) ]
		;;
	esac
}

RAW=$RESULTS_DIR/raw.csv
echo "system,clients,batch,duration_s,transactions,tps,cycles_per_s,latency_ms,dead_tup_before,dead_tup_after,dead_tup_delta,tup_upd_delta,tup_hot_upd_delta,hot_pct,autovacuum_delta,items_done,loadavg_1m,job,server_cpu_us,client_cpu_us" >"$RAW"
RUNS_DONE=0
CLK_TCK=$(getconf CLK_TCK)

# CPU time in clock ticks (/proc/PID/stat, the command name replaced so that
# the fields keep their places: 4 parent, 14 and 15 user and system time, 16
# and 17 those of the children waited for).  The server's: of the postmaster,
# its processes alive now and those that have exited (backends, autovacuum
# workers).  pgbench's: of this script's children that have exited.
server_ticks() {
	local pm
	pm=$(head -n 1 "$WORK_DIR/data/postmaster.pid")
	# (a process that exits meanwhile makes cat fail, which must not end the
	# run; its time may then be missed or counted twice: a few ticks at most)
	{ cat /proc/[0-9]*/stat 2>/dev/null || true; } | sed 's/ (.*) / x /' | awk -v pm="$pm" '
		$1 == pm { t += $14 + $15 + $16 + $17 } $4 == pm { t += $14 + $15 }
		END { print t + 0 }'
}
client_ticks() { sed 's/ (.*) / x /' "/proc/$$/stat" | awk '{ print $16 + $17 }'; }

# wait until the backends of the pgbench run have exited, so that their CPU
# time is the postmaster's children's
wait_backends_gone() {
	local i
	for i in $(seq 50); do
		[ "$(sql -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'
			AND pid <> pg_backend_pid()")" = 0 ] && return
		sleep 0.1
	done
	die "the backends of a pgbench run did not exit"
}

# pgbench one system at a number of clients for SECONDS; LABEL "warmup"
# records nothing
run_point() {
	local sys=$1 clients=$2 seconds=$3 label=${4:-run}
	local threads=$((clients < NPROC ? clients : NPROC)) attempt out rc
	local dead0 hot0 upd0 av0 dead1 hot1 upd1 av1 done0=0 done1=0 load
	local server0 server1 client0 client1
	for attempt in 1 2 3; do
		ensure_backlog "$sys" "$seconds"
		sql -c "VACUUM bench.b0, bench.b1_chunks, bench.b1_jobs, bench.b1a_chunks,
			bench.b1a_jobs, bench.b2_chunks,
			bench.b2_jobs, jobchunk.job_chunks, jobchunk.crawl_jobs, jobchunk.job_counts,
			pgq.event_1, pgq.event_1_0, pgq.event_1_1, pgq.event_1_2, pgq.tick,
			pgq.subscription" -c "CHECKPOINT"
		[ "$sys" = pgq ] && sql -c "SELECT count(pgq.register_consumer_at('bench', 'c' || i,
			$PGQ_START_TICK)) FROM generate_series(0, $PGQ_CONSUMERS - 1) AS i" >/dev/null
		case $sys in B1 | B1a | B2 | jobchunk*) read -r _ done0 < <(job_counts "$sys") ;; esac
		read -r dead0 hot0 upd0 av0 < <(table_stats "$sys")
		load=$(cut -d' ' -f1 /proc/loadavg)
		out=$RESULTS_DIR/pgbench/$sys-c$clients${label/run/}.log
		rc=0
		server0=$(server_ticks)
		client0=$(client_ticks)
		# shellcheck disable=SC2046 # the -D settings are words
		as_postgres pgbench -n -M prepared -c "$clients" -j "$threads" -T "$seconds" \
			$(pgbench_vars "$sys") -f "$SCRIPTS/$sys.sql" >"$out" 2>&1 || rc=$?
		client1=$(client_ticks)
		wait_backends_gone
		server1=$(server_ticks)
		read -r dead1 hot1 upd1 av1 < <(table_stats "$sys")
		case $sys in
		B1 | B1a | B2 | jobchunk*) read -r _ done1 < <(job_counts "$sys") ;;
		B0) done1=$(((upd1 - upd0) / 2)) ;;
		pgq) done1=$(pgq_consumed "$clients") ;;
		esac
		local tx failed tps lat
		tx=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$out")
		failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$out")
		tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$out")
		lat=$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' "$out")
		if [ "$rc" -ne 0 ] || grep -q 'aborted' "$out"; then
			if [ "$attempt" -lt 3 ] && drained "$sys" "$clients"; then
				log "   $sys at $clients clients drained its queue; growing the backlog and running again"
				local r
				r=$(rate_system "$sys")
				EST[$r]=$(calc "e = ${EST[$r]:-0}; if (e < ${GUESS[$r]}) e = ${GUESS[$r]}; print 4 * e")
				continue
			fi
			tail -n 20 "$out" >&2
			die "pgbench failed for $sys at $clients clients (exit $rc), log: $out"
		fi
		[ -n "$tx" ] && [ "$tx" -gt 0 ] && [ -n "$tps" ] ||
			die "pgbench processed no transaction for $sys at $clients clients, log: $out"
		[ "${failed:-0}" -eq 0 ] ||
			die "pgbench counted $failed failed transactions for $sys at $clients clients, log: $out"
		break
	done

	local items completed=$((done1 - done0)) hot_pct per_stream server_us client_us
	items=$(calc "printf \"%.1f\", $tps * ${BATCH[$sys]}")
	# CPU per item (cycle, chunk, event), in microseconds
	server_us=$(calc "printf \"%.0f\", ($server1 - $server0) * 1000000 / $CLK_TCK / ($tx * ${BATCH[$sys]})")
	client_us=$(calc "printf \"%.0f\", ($client1 - $client0) * 1000000 / $CLK_TCK / ($tx * ${BATCH[$sys]})")
	# every transaction pgbench counted must have done its work: completed
	# its chunks, finished its PgQ batch, made its two updates
	[ "$completed" -ge $((tx * BATCH[$sys])) ] ||
		die "$sys at $clients clients: pgbench counted $tx transactions of ${BATCH[$sys]}, but the tables show only $completed done"
	per_stream=$items
	[ "$sys" = pgq ] && per_stream=$(calc "print $items / $clients")
	[ "$(rate_system "$sys")" != "$sys" ] || EST[$sys]=$(calc "e = ${EST[$sys]:-0}; print ($per_stream > e) ? $per_stream : e")
	[ "$label" = warmup ] && return
	hot_pct=$(calc "u = $upd1 - $upd0; if (u > 0) printf \"%.1f\", 100 * ($hot1 - $hot0) / u; else print \"\"")
	local job=${JOB[$sys]:-}
	[ "$sys" = jobchunk-32jobs ] && job="${JOBS32% *}-${JOBS32#* }"
	[ "$sys" = pgq ] && job="tick $PGQ_START_TICK"
	echo "$sys,$clients,${BATCH[$sys]},$seconds,$tx,$tps,$items,$lat,$dead0,$dead1,$((dead1 - dead0)),$((upd1 - upd0)),$((hot1 - hot0)),$hot_pct,$((av1 - av0)),$completed,$load,$job,$server_us,$client_us" >>"$RAW"
	RUNS_DONE=$((RUNS_DONE + 1))
	log "$(printf '   [%2d/%d] %-16s %2d clients: %10s/s  dead Δ %7d  HOT %5s%%  load %s' \
		"$RUNS_DONE" "$TOTAL_RUNS" "$sys" "$clients" "$items" $((dead1 - dead0)) \
		"${hot_pct:--}" "$load")"
}

#
# The header
#
PG_VERSION=$(sql -c "SELECT version()")
JC_VERSION=$(sql -c "SELECT extversion FROM pg_extension WHERE extname = 'jobchunk'")
PGQ_VERSION=$(sql -c "SELECT pgq.version()")
COMMIT=$(git -C "$SRC_DIR" rev-parse --short HEAD 2>/dev/null || echo "not a git tree")
MEM=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
HOT_IN_LIST=0
for c in "${CLIENT_LIST[@]}"; do [ "$c" = "$HOT_CLIENTS" ] && HOT_IN_LIST=1; done
TOTAL_RUNS=$(( ${#CLIENT_LIST[@]} * ${#SYSTEMS[@]} + HOT_JOB * (2 * HOT_ROUNDS + 1 - HOT_IN_LIST) ))

{
	echo "# jobchunk benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')$([ "$QUICK" = 1 ] && echo ", quick")"
	echo "machine:    $NPROC cores ($CPU), $MEM memory, Linux $(uname -r), load average at start $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "server:     $PG_VERSION"
	echo "extensions: jobchunk $JC_VERSION (tree $COMMIT, $([ "$BUILD" = 1 ] && echo "built now" || echo "as installed")), pgq $PGQ_VERSION"
	echo "runs:       pgbench -M prepared, $DURATION s per point, clients $CLIENTS (-j up to $NPROC), PgQ batches of $PGQ_BATCH events"
	echo "postgresql.conf, the same for every system:"
	sql -F ' = ' -c "SELECT name, current_setting(name) FROM pg_settings
		WHERE name IN ($SHOWN_SETTINGS) ORDER BY name" | sed 's/^/    /'
} | tee "$RESULTS_DIR/header.txt"

#
# Warm-up (also checks every script before the long part), then the runs
#
# the one-hot-job pairs: 32 jobs and one job, each new every time, in
# HOT_ROUNDS rounds of alternating order (32, 1, 1, 32, ...), so that drift
# in the machine's speed weighs on both alike
hot_job_pairs() {
	local round sys order
	for ((round = 1; round <= HOT_ROUNDS; round++)); do
		order="jobchunk-32jobs jobchunk-1job"
		[ $((round % 2)) = 0 ] && order="jobchunk-1job jobchunk-32jobs"
		for sys in $order; do
			run_point "$sys" "$HOT_CLIENTS" "$DURATION"
			if [ "$sys" = jobchunk-32jobs ]; then
				retire_32jobs
			else
				retire_job jobchunk "${JOB[jobchunk-1job]}"
			fi
		done
	done
}

log "== warm-up, $WARMUP s each"
for sys in "${SYSTEMS[@]}"; do run_point "$sys" 2 "$WARMUP" warmup; done

log "== $TOTAL_RUNS runs of $DURATION s"
for c in "${CLIENT_LIST[@]}"; do
	for sys in "${SYSTEMS[@]}"; do
		run_point "$sys" "$c" "$DURATION"
		[ "$sys" = jobchunk ] && [ "$c" = "$HOT_CLIENTS" ] && hot_job_pairs
	done
done
if [ "$HOT_JOB" = 1 ] && [ "$HOT_IN_LIST" = 0 ]; then
	run_point jobchunk "$HOT_CLIENTS" "$DURATION"
	hot_job_pairs
fi

#
# Results: ratios to B0 and B1 at the same client count, the table, the plot
#
CSV=$RESULTS_DIR/results.csv
awk -F, -v OFS=, '
	NR == 1 { print "system,clients,batch,duration_s,transactions,tps,cycles_per_s,ratio_b0,ratio_b1," substr($0, index($0, "latency_ms")); next }
	{ row[NR] = $0; if ($1 == "B0") b0[$2] = $7; if ($1 == "B1") b1[$2] = $7 }
	END {
		for (i = 2; i <= NR; i++) {
			split(row[i], f, ",")
			r0 = (f[2] in b0 && b0[f[2]] > 0) ? sprintf("%.3f", f[7] / b0[f[2]]) : ""
			r1 = (f[2] in b1 && b1[f[2]] > 0) ? sprintf("%.3f", f[7] / b1[f[2]]) : ""
			rest = row[i]
			for (k = 1; k <= 7; k++) rest = substr(rest, index(rest, ",") + 1)
			print f[1], f[2], f[3], f[4], f[5], f[6], f[7], r0, r1, rest
		}
	}' "$RAW" >"$CSV"
rm -f "$RAW"

# what B1 ran on, for checking that it is the same table as jobchunk's
{
	echo "jobchunk.job_chunks:"
	as_postgres psql -X -c '\d+ jobchunk.job_chunks'
	echo "B1/B2 chunk table, copied from jobchunk.job_chunks:"
	as_postgres psql -X -c '\d+ bench.b1_chunks'
	echo "B1's claim, planned for its last job:"
	sql -c "EXPLAIN (COSTS OFF) SELECT n.id FROM bench.b1_chunks AS n
		WHERE n.job_id = ${JOB[B1]:-1} AND n.status = 'pending'
		ORDER BY n.priority DESC, n.created_at, n.id LIMIT 1 FOR UPDATE SKIP LOCKED"
} >"$RESULTS_DIR/schema.txt"

ORDER="${SYSTEMS[*]} jobchunk-32jobs jobchunk-1job"
{
	echo
	printf '%-16s %7s %11s %7s %7s %11s %6s %7s %7s\n' system clients cycles/s "x B0" "x B1" \
		"dead tup Δ" "HOT %" "srv µs" "pgb µs"
	for sys in $ORDER; do
		awk -F, -v s="$sys" '$1 == s {
			printf "%-16s %7d %11.1f %7s %7s %11d %6s %7d %7d\n", $1, $2, $7,
				($8 == "" ? "-" : sprintf("%.2f", $8)), ($9 == "" ? "-" : sprintf("%.2f", $9)),
				$13, ($16 == "" ? "-" : $16), $21, $22
		}' "$CSV" | sort -s -k2,2n
	done
	echo
	echo "cycles/s: claim + complete cycles per second; for jobchunk-n10/-n50 chunks/s, for pgq events/s"
	echo "(batches of $PGQ_BATCH, each client its own consumer).  x B0, x B1: against B0 and B1 at the same"
	echo "client count in this run.  dead tup Δ: n_dead_tup after the run minus before (autovacuum may"
	echo "lower it); HOT %: n_tup_hot_upd / n_tup_upd during the run, over the system's tables."
	echo "srv µs, pgb µs: CPU time per cycle (chunk, event) of the server's processes (backends,"
	echo "autovacuum, WAL writer, checkpointer and the rest) and of pgbench, user and system, during the"
	echo "run.  PgQ delivers each event to every consumer: its distinct events/s are events/s / clients."
	# the one-hot-job rounds: the mean of each, and each round's ratio
	hot=$(awk -F, -v c="$HOT_CLIENTS" '$2 == c && $1 == "jobchunk-1job" { one[++n1] = $7 }
		$2 == c && $1 == "jobchunk-32jobs" { own[++n32] = $7 }
		END {
			if (n1 == 0 || n1 != n32) exit
			for (i = 1; i <= n1; i++) { s1 += one[i]; s32 += own[i]; r = r sprintf(" %.2f", one[i] / own[i]) }
			printf "%.1f %.1f %.2f%s", s1 / n1, s32 / n32, s1 / s32, r
		}' "$CSV")
	if [ -n "$hot" ]; then
		read -r one many ratio rounds <<<"$hot"
		echo
		echo "one hot job: $HOT_CLIENTS clients on one new job $one cycles/s, each on a new job of its own" \
			"$many cycles/s (means of $HOT_ROUNDS rounds): one job / own jobs = $ratio (rounds: $rounds)"
		aged=$(awk -F, -v c="$HOT_CLIENTS" '$1 == "jobchunk" && $2 == c { print $7 }' "$CSV")
		[ -n "$aged" ] && echo "(the jobchunk row at $HOT_CLIENTS clients, on the job its earlier runs used too:" \
			"$aged cycles/s, $(calc "printf \"%.2f\", $aged / $many") x own jobs)"
	fi
	echo "load average at end $(cut -d' ' -f1-3 /proc/loadavg); $(( (SECONDS - START_SECONDS) / 60 )) min $(( (SECONDS - START_SECONDS) % 60 )) s in all"
	echo "results: $CSV, $RESULTS_DIR/throughput.png"
} | tee "$RESULTS_DIR/table.txt"

# the plot: one line per system, throughput against clients, both axes log
mkdir -p "$RESULTS_DIR/plot"
plot_cmds=()
for sys in "${SYSTEMS[@]}"; do
	awk -F, -v s="$sys" '$1 == s { print $2, $7 }' "$CSV" | sort -n >"$RESULTS_DIR/plot/$sys.dat"
	plot_cmds+=("'$RESULTS_DIR/plot/$sys.dat' using 1:2 with linespoints lw 2 title '$sys'")
done
if [ "$HOT_JOB" = 1 ]; then
	awk -F, '$1 == "jobchunk-32jobs" { print $2, $7 }' "$CSV" >"$RESULTS_DIR/plot/jobchunk-32jobs.dat"
	plot_cmds+=("'$RESULTS_DIR/plot/jobchunk-32jobs.dat' using 1:2 with points pt 7 ps 1.5 title 'jobchunk, 32 clients on 32 jobs'")
	awk -F, '$1 == "jobchunk-1job" { print $2, $7 }' "$CSV" >"$RESULTS_DIR/plot/jobchunk-1job.dat"
	plot_cmds+=("'$RESULTS_DIR/plot/jobchunk-1job.dat' using 1:2 with points pt 5 ps 1.5 title 'jobchunk, 32 clients on 1 new job'")
fi
plot_list=$(IFS=,; echo "${plot_cmds[*]}")
gnuplot <<EOF
set terminal pngcairo size 1100,700 font ",11" noenhanced
# ten series: two colours more than gnuplot's eight
set linetype 9 lc rgb "dark-orange"
set linetype 10 lc rgb "black"
set linetype cycle 10
set output '$RESULTS_DIR/throughput.png'
set title "jobchunk benchmark $START_DATE: $NPROC cores, $DURATION s per point, synchronous_commit=on"
set logscale x 2
set logscale y 10
set xtics (${CLIENTS// /, })
set xrange [0.8:$(calc "print 1.25 * ${CLIENT_LIST[-1]}")]
set yrange [$(awk -F, 'NR > 1 { if (min == "" || $7 < min) min = $7; if ($7 > max) max = $7 }
	END { print min / 1.5 ":" max * 1.5 }' "$CSV")]
set xlabel "clients"
set ylabel "cycles/s (chunks/s, events/s for batches; log scale)"
set grid xtics ytics mytics
set key outside right top
plot $plot_list
EOF
log "== done: $RESULTS_DIR"
