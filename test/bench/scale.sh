#!/usr/bin/env bash
# test/bench/scale.sh: jobchunk at scale, against baselines measured in the
# same run on the same server.
#
# Run as root:   bash test/bench/scale.sh [--quick] [--no-build]
#
# Prints one section per question (test/bench/README.md says how to read
# them); asserts no speed, but exits non-zero if a measurement fails.
#   creation   jc_create_chunks of N chunks against a bare INSERT ... SELECT
#              generate_series of the same rows into the same table, each
#              twice, alternating
#   progress   jc_progress / jc_statistics server time on a job of N chunks
#              while 16 clients claim and complete its chunks, and whether
#              the counts equal the rows (checked in the same snapshot)
#   size       claim + complete throughput (8 clients) on a job of 100,000
#              chunks, first alone in the table, then with BIG more chunks of
#              other jobs, all completed, in the table
#   bloat      CYCLES claim + complete cycles (8 clients, autovacuum as
#              configured) in ten slices: throughput, and the size of
#              job_chunks with its indexes, after each slice
#   stream     CYCLES cycles in twenty slices, each on a job of CYCLES / 20
#              chunks created before the slice and purged (jc_purge_job)
#              after it, the next job already waiting: throughput, and the
#              size of job_chunks and its indexes, its dead tuples and the
#              autovacuums of it so far, after each purge
#   held       claim + complete throughput (8 clients) in slices of 15 s:
#              one, then four while another session holds a snapshot open
#              (which holds back vacuum and the pruning of dead row
#              versions), then three after it ends; for jobchunk and for
#              the hand-written queue of run.sh (B1), each on a job of
#              1,000,000 chunks, each with a snapshot of its own; and
#              jc_statistics' time at the end of the held slices
#   memory     the private resident memory (RssAnon: not the shared buffers
#              the backend touches, which VmRSS counts) of one backend over
#              CALLS claim + complete cycles
# Full: N = 1,000,000, BIG = 10,000,000, CYCLES = 1,000,000, CALLS = 1,000,000
# (about 40 minutes here); --quick: 200,000, 1,000,000, 200,000, 100,000.
#
# Server settings: those of test/bench/run.sh (shared_buffers=1GB,
# synchronous_commit=on, max_wal_size=8GB, checkpoint_timeout=30min,
# maintenance_work_mem=256MB, jit=off, autovacuum at its defaults).

source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../../scripts/common.sh"

QUICK=0
BUILD=1
for arg in "$@"; do
	case $arg in
	--quick) QUICK=1 ;;
	--no-build) BUILD=0 ;;
	*) echo "unknown argument: $arg" >&2; exit 2 ;;
	esac
done
if [ "$QUICK" = 1 ]; then
	N=200000 BIG=1000000 CYCLES=200000 CALLS=100000
else
	N=1000000 BIG=10000000 CYCLES=1000000 CALLS=1000000
fi
export PGPORT=${PGPORT:-54349}

install_packages make gcc "postgresql-$PG_MAJOR" "postgresql-server-dev-$PG_MAJOR"
[ "$BUILD" = 1 ] && build_and_install
start_cluster
for setting in shared_buffers=1GB synchronous_commit=on max_wal_size=8GB \
	checkpoint_timeout=30min maintenance_work_mem=256MB jit=off; do
	as_postgres psql -X -q -c "ALTER SYSTEM SET ${setting%%=*} = '${setting#*=}'"
done
as_postgres pg_ctl -D "$WORK_DIR/data" -w restart >/dev/null
chmod 777 "$WORK_DIR"

sql() { as_postgres psql -X -q -At -v ON_ERROR_STOP=1 -c 'SET client_min_messages = warning' "$@"; }

# pgbench as the postgres user: pgbench_run SCRIPT CLIENTS ARGS... prints tps
pgbench_run() {
	local script=$1 clients=$2
	shift 2
	as_postgres pgbench -n -M prepared -c "$clients" -j 2 -f "$script" "$@" postgres \
		>"$WORK_DIR/pgbench.out" 2>&1 || { cat "$WORK_DIR/pgbench.out" >&2; return 1; }
	if grep -q "number of failed transactions: [1-9]" "$WORK_DIR/pgbench.out"; then
		cat "$WORK_DIR/pgbench.out" >&2
		return 1
	fi
	sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$WORK_DIR/pgbench.out"
}

# a worker's cycle on job :job, as pgbench scripts
cat >"$WORK_DIR/cycle.sql" <<'EOF'
SELECT id, lease_token AS tok FROM jobchunk.jc_next_pending(:job) \gset
SELECT 1 FROM jobchunk.jc_mark_completed(:id::bigint, :tok::bigint);
EOF
chmod 644 "$WORK_DIR/cycle.sql"

sql -c "CREATE EXTENSION jobchunk"
# new_job NAME CHUNKS: a job of CHUNKS one-image chunks; prints its id
new_job() {
	local id
	id=$(sql -c "INSERT INTO jobchunk.crawl_jobs (name) VALUES ('$1') RETURNING id")
	sql -c "SET jobchunk.chunk_size = 1" -c "SELECT count(*) FROM jobchunk.jc_create_chunks($id, $2)" >/dev/null
	echo "$id"
}
# "size indexes dead autovacuums" of job_chunks: sizes in MB, with its
# indexes and of the indexes alone
chunk_stats() {
	sql -F ' ' -c "SELECT round(pg_total_relation_size(relid) / 1048576.0),
		round(pg_indexes_size(relid) / 1048576.0), n_dead_tup, autovacuum_count
		FROM pg_stat_user_tables WHERE relid = 'jobchunk.job_chunks'::regclass"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

echo "== jobchunk at scale ($( [ "$QUICK" = 1 ] && echo quick || echo full )): $(nproc) cores," \
	"$(free -g | awk '/^Mem:/ { print $2 }') GiB, $(sql -c 'SHOW server_version')"

# ---------------------------------------------------------------- creation
echo
echo "== creation of $N chunks (ms)"
bare_ms=() jc_ms=()
for round in 1 2; do
	job=$(sql -c "INSERT INTO jobchunk.crawl_jobs (name) VALUES ('bare $round') RETURNING id")
	sql -c "CHECKPOINT"
	bare_ms+=("$(sql -c "SELECT extract(epoch FROM clock_timestamp()) * 1000" \
		-c "INSERT INTO jobchunk.job_chunks (job_id, chunk_index, priority, image_range)
			SELECT $job, i, 5, pg_catalog.jsonb_build_object('start', i::bigint, 'end', i::bigint)
			FROM generate_series(0, $N - 1) AS i" \
		-c "SELECT extract(epoch FROM clock_timestamp()) * 1000" |
		awk 'NR == 1 { t = $1 } NR == 2 { printf "%.0f", $1 - t }')")
	job=$(sql -c "INSERT INTO jobchunk.crawl_jobs (name) VALUES ('jc $round') RETURNING id")
	sql -c "CHECKPOINT"
	jc_ms+=("$(sql -c "SELECT extract(epoch FROM clock_timestamp()) * 1000" \
		-c "SET jobchunk.chunk_size = 1" \
		-c "SELECT count(*) FROM jobchunk.jc_create_chunks($job, $N)" \
		-c "SELECT extract(epoch FROM clock_timestamp()) * 1000" |
		awk 'NR == 1 { t = $1 } NR == 3 { printf "%.0f", $1 - t }')")
done
printf '%-28s %10s %10s\n' "" "round 1" "round 2"
printf '%-28s %10s %10s\n' "bare INSERT ... SELECT" "${bare_ms[0]}" "${bare_ms[1]}"
printf '%-28s %10s %10s\n' "jc_create_chunks" "${jc_ms[0]}" "${jc_ms[1]}"
echo "ratio jc_create_chunks / bare: $(ratio $((jc_ms[0] + jc_ms[1])) $((bare_ms[0] + bare_ms[1])))"
sql -c "TRUNCATE jobchunk.crawl_jobs CASCADE" -c "VACUUM ANALYZE"

# ---------------------------------------------------------------- progress
echo
echo "== progress of a job of $N chunks while 16 clients work on it"
job=$(new_job progress "$N")
sql -c "VACUUM ANALYZE"
as_postgres pgbench -n -M prepared -c 16 -j 2 -T 20 -D job="$job" -f "$WORK_DIR/cycle.sql" postgres \
	>"$WORK_DIR/progress-load.out" 2>&1 &
load=$!
as_postgres psql -X -q -At -v ON_ERROR_STOP=1 -c "SELECT pg_sleep(2)" >/dev/null	# let the load start
# Per call: its wall time, and the time the backend waited for a CPU (in a
# run queue) meanwhile, from /proc/self/schedstat: with 16 busy clients on
# a few cores, the wall time's tail is mostly that wait, not the call's
# work.  (The file's other figure, time on a CPU, moves only when the
# scheduler switches tasks, too seldom to time one call.)  Each call is a
# transaction of its own, as a monitor's are: one transaction around them
# all would hold back the pruning of the stripe rows' old versions for as
# long as it ran, and time that instead (test/bench/README.md, *Progress:
# one transaction around the calls*).
sql -c "CREATE TABLE progress_times (wall float8, runq float8)" -c "
	DO \$\$
	DECLARE
		t0 timestamptz;
		t1 timestamptz;
		s0 bigint[];
		s1 bigint[];
		walls float8[] := '{}';
		runqs float8[] := '{}';
	BEGIN
		FOR i IN 1..4000 LOOP
			s0 := pg_catalog.string_to_array(pg_catalog.btrim(pg_catalog.pg_read_file('/proc/self/schedstat'), E' \\n'), ' ');
			t0 := clock_timestamp();
			IF i % 2 = 0 THEN
				PERFORM * FROM jobchunk.jc_progress($job);
			ELSE
				PERFORM * FROM jobchunk.jc_statistics($job);
			END IF;
			t1 := clock_timestamp();
			s1 := pg_catalog.string_to_array(pg_catalog.btrim(pg_catalog.pg_read_file('/proc/self/schedstat'), E' \\n'), ' ');
			walls := walls || extract(epoch FROM t1 - t0) * 1000;
			runqs := runqs || (s1[2] - s0[2]) / 1e6;
			COMMIT;
		END LOOP;
		INSERT INTO progress_times SELECT * FROM unnest(walls, runqs);
	END
	\$\$"
exact=0
for check in $(seq 20); do
	ok=$(sql -c "BEGIN ISOLATION LEVEL REPEATABLE READ" -c "
		SELECT s.total = count(*) AND s.pending = count(*) FILTER (WHERE c.status = 'pending')
		   AND s.processing = count(*) FILTER (WHERE c.status = 'processing')
		   AND s.completed = count(*) FILTER (WHERE c.status = 'completed')
		   AND s.failed = count(*) FILTER (WHERE c.status = 'failed')
		FROM jobchunk.jc_statistics($job) AS s, jobchunk.job_chunks AS c
		WHERE c.job_id = $job GROUP BY s.total, s.pending, s.processing, s.completed, s.failed" -c "COMMIT")
	[ "$ok" = t ] && exact=$((exact + 1))
done
wait "$load" || { cat "$WORK_DIR/progress-load.out" >&2; exit 1; }
sql -c "SELECT 'calls ' || count(*) || ', of which ' || count(*) FILTER (WHERE runq > 0)
	|| ' waited for a CPU' FROM progress_times"
for what in "wall time|wall" "waiting for a CPU|runq" "wall time less that wait|wall - runq" \
	"wall time of the calls that did not wait|wall) FILTER (WHERE runq = 0"; do
	sql -c "SELECT '${what%%|*}: median '
		|| round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ${what#*|})::numeric, 3)
		|| ' ms, p99 ' || round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ${what#*|})::numeric, 3)
		|| ' ms, max ' || round(max(${what#*|})::numeric, 3) || ' ms' FROM progress_times"
done
echo "load: $(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$WORK_DIR/progress-load.out") cycles/s;" \
	"counts equal to the rows in $exact of 20 snapshots"
[ "$exact" = 20 ] || { echo "the statistics disagreed with the rows" >&2; exit 1; }
sql -c "DROP TABLE progress_times" -c "TRUNCATE jobchunk.crawl_jobs CASCADE" -c "VACUUM ANALYZE"

# ---------------------------------------------------------------- size
echo
echo "== claim throughput and table size (8 clients, 15 s)"
job=$(new_job small 100000)
sql -c "VACUUM ANALYZE"
small_tps=$(pgbench_run "$WORK_DIR/cycle.sql" 8 -T 15 -D job="$job")
filler=$(sql -c "INSERT INTO jobchunk.crawl_jobs (name) VALUES ('filler') RETURNING id")
sql -c "INSERT INTO jobchunk.job_chunks (job_id, chunk_index, status, priority, image_range)
	SELECT $filler, i, 'completed', 5, pg_catalog.jsonb_build_object('start', i::bigint, 'end', i::bigint)
	FROM generate_series(0, $BIG - 1) AS i" -c "VACUUM ANALYZE"
job=$(new_job small-again 100000)
sql -c "VACUUM ANALYZE"
big_tps=$(pgbench_run "$WORK_DIR/cycle.sql" 8 -T 15 -D job="$job")
printf '%-44s %10s\n' "100,000 chunks in the table" "$small_tps"
printf '%-44s %10s\n' "$BIG more, completed, in the table" "$big_tps"
echo "ratio large / small table: $(ratio "$big_tps" "$small_tps")"
sql -c "TRUNCATE jobchunk.crawl_jobs CASCADE" -c "VACUUM ANALYZE"

# ---------------------------------------------------------------- bloat
echo
echo "== $CYCLES cycles in ten slices (8 clients, autovacuum on)"
job=$(new_job bloat $((CYCLES + CYCLES / 10)))
sql -c "VACUUM ANALYZE"
printf '%-6s %12s %16s %14s\n' slice cycles/s "size (MB)" "dead tuples"
first="" last=""
for slice in $(seq 10); do
	tps=$(pgbench_run "$WORK_DIR/cycle.sql" 8 -t $((CYCLES / 80)) -D job="$job")
	read -r size _ dead _ < <(chunk_stats)
	printf '%-6s %12s %16s %14s\n' "$slice" "$tps" "$size" "$dead"
	[ "$slice" = 1 ] && first=$tps
	last=$tps
done
echo "ratio last / first slice: $(ratio "$last" "$first")"
sql -c "TRUNCATE jobchunk.crawl_jobs CASCADE" -c "VACUUM ANALYZE"

# ---------------------------------------------------------------- stream
echo
echo "== $CYCLES cycles over jobs of $((CYCLES / 20)) chunks, each purged when done (8 clients)"
printf '%-6s %12s %16s %14s %14s %10s\n' slice cycles/s "size (MB)" "indexes (MB)" "dead tuples" vacuums
next=$(new_job stream-1 $((CYCLES / 20)))
read -r _ _ _ vacuums0 < <(chunk_stats)
sizes=()
for slice in $(seq 20); do
	job=$next
	next=$(new_job "stream-$((slice + 1))" $((CYCLES / 20)))
	tps=$(pgbench_run "$WORK_DIR/cycle.sql" 8 -t $((CYCLES / 160)) -D job="$job")
	[ "$(sql -c "SELECT jobchunk.jc_is_complete($job)")" = t ] ||
		{ echo "job $job is not complete after its slice" >&2; exit 1; }
	sql -c "SELECT jobchunk.jc_purge_job($job)" >/dev/null
	read -r size indexes dead vacuums < <(chunk_stats)
	vacuums=$((vacuums - vacuums0))
	printf '%-6s %12s %16s %14s %14s %10s\n' "$slice" "$tps" "$size" "$indexes" "$dead" "$vacuums"
	sizes+=("$size")
done
echo "size after slices 5, 10, 15 and 20: ${sizes[4]}, ${sizes[9]}, ${sizes[14]} and ${sizes[19]} MB;" \
	"autovacuum ran $vacuums times"
sql -c "TRUNCATE jobchunk.crawl_jobs CASCADE" -c "VACUUM ANALYZE"

# ---------------------------------------------------------------- held
echo
echo "== while a transaction holds back vacuum (8 clients, 15 s a slice; slices 2-5 held)"
# run.sh's B1: jobchunk's table, indexes, checks and storage options, a
# claim from the head of the job with FOR UPDATE SKIP LOCKED, a completion
sql -c "CREATE TABLE b1_jobs (LIKE jobchunk.crawl_jobs INCLUDING ALL)" \
	-c "CREATE TABLE b1_chunks (LIKE jobchunk.job_chunks INCLUDING ALL)" \
	-c "ALTER TABLE b1_chunks ADD FOREIGN KEY (job_id) REFERENCES b1_jobs (id) ON DELETE CASCADE" \
	-c "ALTER TABLE b1_chunks SET (autovacuum_vacuum_scale_factor = 0.02)" \
	-c "INSERT INTO b1_jobs (name) VALUES ('held')" \
	-c "INSERT INTO b1_chunks (job_id, chunk_index, status, priority, image_range)
		SELECT 1, i, 'pending', 5, pg_catalog.jsonb_build_object('start', i::bigint, 'end', i::bigint)
		FROM generate_series(0, 999999) AS i"
cat >"$WORK_DIR/b1.sql" <<'EOF'
UPDATE b1_chunks AS c
SET status = 'processing', task_id = NULL, lease_token = c.lease_token + 1,
	lease_expires_at = now() + interval '5 minutes', updated_at = now()
WHERE c.id = (SELECT n.id FROM b1_chunks AS n
	WHERE n.job_id = 1 AND n.status = 'pending'
	ORDER BY n.priority DESC, n.created_at, n.id
	LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING c.id, c.lease_token AS tok \gset
UPDATE b1_chunks SET status = 'completed', lease_expires_at = NULL, error_message = NULL,
	updated_at = now()
WHERE id = :id AND lease_token = :tok AND status = 'processing'
RETURNING id AS done \gset
EOF
chmod 644 "$WORK_DIR/b1.sql"
job=$(new_job held 1000000)
declare -A held_tps=()
# held_slice SYSTEM SLICE: 15 s of SYSTEM's cycles, into held_tps
held_slice() {
	if [ "$1" = jobchunk ]; then
		held_tps[$1,$2]=$(pgbench_run "$WORK_DIR/cycle.sql" 8 -T 15 -D job="$job")
	else
		held_tps[$1,$2]=$(pgbench_run "$WORK_DIR/b1.sql" 8 -T 15)
	fi
}
for system in jobchunk B1; do
	sql -c "VACUUM ANALYZE"
	held_slice "$system" 1
	# the snapshot: a session in a REPEATABLE READ transaction that has read
	# a table, until it is cancelled
	as_postgres psql -X -q -c "SET application_name = 'held'" \
		-c "BEGIN ISOLATION LEVEL REPEATABLE READ" -c "SELECT count(*) FROM jobchunk.crawl_jobs" \
		-c "SELECT pg_sleep(3600)" >/dev/null 2>&1 &
	holder=$!
	until [ "$(sql -c "SELECT count(*) FROM pg_stat_activity
		WHERE application_name = 'held' AND backend_xmin IS NOT NULL")" = 1 ]; do
		kill -0 "$holder" 2>/dev/null || { echo "the session holding a snapshot ended" >&2; exit 1; }
		sleep 0.1
	done
	for slice in 2 3 4 5 6 7 8; do
		if [ "$slice" = 6 ]; then
			if [ "$system" = jobchunk ]; then
				statistics_ms=$(sql -c "SELECT extract(epoch FROM clock_timestamp()) * 1000" \
					-c "SELECT count(*) FROM generate_series(1, 10) AS i, LATERAL jobchunk.jc_statistics($job + 0 * i)" \
					-c "SELECT extract(epoch FROM clock_timestamp()) * 1000" |
					awk 'NR == 1 { t = $1 } NR == 3 { printf "%.2f", ($1 - t) / 10 }')
				counts_mb=$(sql -c "SELECT round(pg_total_relation_size('jobchunk.job_counts') / 1048576.0)")
			fi
			sql -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'held'" >/dev/null
			wait "$holder" || true
		fi
		held_slice "$system" "$slice"
	done
done
printf '%-6s %-6s %14s %14s %10s\n' slice held jobchunk B1 "x B1"
for slice in 1 2 3 4 5 6 7 8; do
	printf '%-6s %-6s %14s %14s %10s\n' "$slice" "$([ "$slice" -ge 2 ] && [ "$slice" -le 5 ] && echo yes || echo no)" \
		"${held_tps[jobchunk,$slice]}" "${held_tps[B1,$slice]}" \
		"$(ratio "${held_tps[jobchunk,$slice]}" "${held_tps[B1,$slice]}")"
done
echo "slice 5 / slice 1 (the snapshot held 60 s): jobchunk $(ratio "${held_tps[jobchunk,5]}" "${held_tps[jobchunk,1]}")," \
	"B1 $(ratio "${held_tps[B1,5]}" "${held_tps[B1,1]}");" \
	"slice 8 / slice 1 (30 s after it ended): jobchunk $(ratio "${held_tps[jobchunk,8]}" "${held_tps[jobchunk,1]}")," \
	"B1 $(ratio "${held_tps[B1,8]}" "${held_tps[B1,1]}")"
echo "at the end of the held slices: jc_statistics $statistics_ms ms a call, job_counts $counts_mb MB"
sql -c "DROP TABLE b1_chunks, b1_jobs" -c "TRUNCATE jobchunk.crawl_jobs CASCADE" -c "VACUUM ANALYZE"

# ---------------------------------------------------------------- memory
echo
echo "== private resident memory (RssAnon) of one backend over $CALLS cycles"
job=$(new_job memory $((CALLS + 1000)))
sql -c "VACUUM ANALYZE"
as_postgres pgbench -n -M prepared -c 1 -t "$CALLS" -D job="$job" -f "$WORK_DIR/cycle.sql" postgres \
	>"$WORK_DIR/memory.out" 2>&1 &
load=$!
# the backend of pgbench's client (not of its first connection, which
# checks the server and closes), once it has called jobchunk
pid=""
until [ -n "$pid" ]; do
	kill -0 "$load" 2>/dev/null || { wait "$load" || true; cat "$WORK_DIR/memory.out" >&2; exit 1; }
	pid=$(sql -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgbench'
		AND query LIKE '%jobchunk.jc_%' LIMIT 1")
done
printf '%-12s %12s\n' cycles "RssAnon (kB)"
samples=()
while kill -0 "$load" 2>/dev/null; do
	done_cycles=$(sql -c "SELECT completed FROM jobchunk.jc_statistics($job)")
	rss=$(awk '/^RssAnon/ { print $2 }' "/proc/$pid/status" 2>/dev/null) || break
	[ -n "$rss" ] || break
	printf '%-12s %12s\n' "$done_cycles" "$rss"
	samples+=("$rss")
	as_postgres psql -X -q -c "SELECT pg_sleep(5)" >/dev/null
done
wait "$load" || { cat "$WORK_DIR/memory.out" >&2; exit 1; }
[ ${#samples[@]} -ge 2 ] || { echo "fewer than two samples of the backend's memory" >&2; exit 1; }
echo "growth from the second sample to the last: $((samples[-1] - samples[1])) kB"
