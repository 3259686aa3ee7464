#!/bin/bash
# scripts/demo.sh: jobchunk at work, from a fresh Debian 12 machine.
#
# Run as root: bash scripts/demo.sh
#
# Builds and installs jobchunk into a throwaway cluster, splits a crawl of
# 100,000 images into 200 chunks, and lets a few concurrent workers claim
# and process them while a progress bar follows the job.  A few chunks fail
# on their first attempt and are retried.  Then the finished job is purged.
# Exits non-zero unless every chunk ends up completed, and the purge deletes
# them all.
#
# Settings, from the environment: PGPORT (the cluster's port, 54329 by
# default), WORKERS (4) and PROCESS_SECONDS (0.05, the time each chunk takes).

source "$(dirname "$0")/common.sh"

WORKERS=${WORKERS:-4}
PROCESS_SECONDS=${PROCESS_SECONDS:-0.05}
IMAGES=100000
CHUNKS=200	# in chunks of 500 images, jobchunk.chunk_size's default

# run SQL as the postgres user: unaligned, tuples only, stopping at an error
sql() {
	as_postgres psql -X -q -At -v ON_ERROR_STOP=1 "$@"
}

install_packages make gcc "postgresql-$PG_MAJOR" "postgresql-server-dev-$PG_MAJOR"
build_and_install
start_cluster

# On exit or interrupt, stop the workers before stop_cluster (from
# common.sh) stops the server and removes the cluster; stop_cluster exits
# with the status it finds in $?, so hand it the script's own.
worker_pids=()
cleanup() {
	local status=$?
	set +e
	[ ${#worker_pids[@]} -gt 0 ] && kill "${worker_pids[@]}" 2>/dev/null
	[ -n "${open_line:-}" ] && echo	# end the progress line of an interruption
	(exit "$status")
	stop_cluster
}
trap cleanup EXIT

echo "== creating a job of $IMAGES images"
sql -c "CREATE EXTENSION jobchunk"
JOB_ID=$(sql -c "INSERT INTO jobchunk.crawl_jobs (name) VALUES ('demo crawl') RETURNING id")
read -r created largest < <(sql -F ' ' -c "
	SELECT count(*), max((image_range->>'end')::bigint - (image_range->>'start')::bigint + 1)
	FROM jobchunk.jc_create_chunks($JOB_ID, $IMAGES, 5)")
echo "job $JOB_ID 'demo crawl': $IMAGES images in $created chunks of up to $largest images"

# One chunk's work, in psql's own language: claim the next pending chunk
# under a one-minute lease, "process" it, then complete it with the lease's
# fencing token.  A chunk whose id is a multiple of 37 fails
# on its first attempt and goes straight back to pending, to be claimed again
# (by any worker) and completed on its second.  Failing and retrying happen in
# one transaction, so the job never looks complete while a chunk that is
# about to be retried is failed.  psql quits when nothing is left to claim.
read -r -d '' STEP <<'SQL' || true
SELECT c.id IS NULL AS done, c.id, c.lease_token AS token,
	c.id % 37 = 0 AND c.retry_count = 0 AS fail
FROM (SELECT) AS one
	LEFT JOIN jobchunk.jc_next_pending(:job, :'worker', interval '1 minute') AS c ON true \gset
\if :done
	\q
\endif
SELECT pg_sleep(:seconds);
\if :fail
	BEGIN;
	SELECT jobchunk.jc_mark_failed(:id, 'simulated timeout', :token);
	SELECT jobchunk.jc_retry(:id);
	COMMIT;
\else
	SELECT jobchunk.jc_mark_completed(:id, :token);
\endif
SQL

# worker N: one psql session, fed STEP over and over until it quits; the
# feeding loop then ends on the closed pipe, and the worker's status is psql's
worker() {
	set +o pipefail
	while printf '%s\n' "$STEP" 2>/dev/null; do :; done |
		sql -v job="$JOB_ID" -v worker="worker-$1" -v seconds="$PROCESS_SECONDS" >/dev/null
}

echo "== processing with $WORKERS concurrent workers"
for n in $(seq "$WORKERS"); do
	worker "$n" 2>"$WORK_DIR/worker-$n.log" &
	worker_pids+=($!)
done

# true while any worker is still running
workers_running() {
	local pid
	for pid in "${worker_pids[@]}"; do
		kill -0 "$pid" 2>/dev/null && return 0
	done
	return 1
}

# Follow the job until it is complete, or until no worker is left to
# complete it: redraw one line five times a second on a terminal, or print a
# new line every second into a log or a pipe.
if [ -t 1 ]; then
	every=1 eol='' bol='\r' open_line=1
else
	every=5 eol='\n' bol=''
fi
tick=0
while :; do
	read -r completed total processing failed percent complete retried < <(sql -F ' ' -c "
		SELECT completed_chunks, total_chunks, processing_chunks, failed_chunks,
			completion_percentage, is_complete,
			(SELECT count(*) FROM jobchunk.jc_chunks($JOB_ID) WHERE retry_count > 0)
		FROM jobchunk.jc_progress($JOB_ID)")
	if [ $((tick % every)) -eq 0 ] || [ "$complete" = t ]; then
		filled=$((completed * 20 / total))
		bar=$(printf '%*s' "$filled" '' | tr ' ' '#')$(printf '%*s' $((20 - filled)) '' | tr ' ' '.')
		printf '%b[%s] %6s%%  done %d/%d  processing %d  failed %d  retried %d%b' \
			"$bol" "$bar" "$percent" "$completed" "$total" "$processing" "$failed" "$retried" "$eol"
	fi
	[ "$complete" = t ] && break
	workers_running || break
	tick=$((tick + 1))
	sleep 0.2
done
[ -n "${open_line:-}" ] && echo
open_line=

# Every worker must have finished cleanly.
for n in $(seq "$WORKERS"); do
	if ! wait "${worker_pids[n - 1]}"; then
		echo "worker-$n failed:" >&2
		cat "$WORK_DIR/worker-$n.log" >&2
		exit 1
	fi
done
worker_pids=()

echo "== final statistics of job $JOB_ID"
as_postgres psql -X -q -x -P pager=off -c "SELECT * FROM jobchunk.jc_statistics($JOB_ID)"
retried=$(sql -c "SELECT count(*) FROM jobchunk.jc_chunks($JOB_ID) WHERE retry_count > 0")
echo "chunks retried after a simulated timeout: $retried"

# The job is done, and exactly the chunks meant to fail were retried, once.
read -r total completed failed complete < <(sql -F ' ' -c "
	SELECT total_chunks, completed_chunks, failed_chunks, is_complete
	FROM jobchunk.jc_progress($JOB_ID)")
if [ "$total" != "$CHUNKS" ] || [ "$completed" != "$CHUNKS" ] ||
	[ "$failed" != 0 ] || [ "$complete" != t ]; then
	echo "FAILED: expected $CHUNKS chunks, all completed, none failed, and the job complete;" \
		"got total $total, completed $completed, failed $failed, is_complete $complete" >&2
	exit 1
fi
wrong=$(sql -c "SELECT count(*) FROM jobchunk.jc_chunks($JOB_ID)
	WHERE retry_count <> CASE WHEN id % 37 = 0 THEN 1 ELSE 0 END")
if [ "$wrong" != 0 ]; then
	echo "FAILED: $wrong chunks were retried other than once for each planned failure" >&2
	exit 1
fi

# Retention: the finished job goes, with its chunks and counts.
purged=$(sql -c "SELECT jobchunk.jc_purge_job($JOB_ID)")
left=$(sql -c "SELECT count(*) FROM jobchunk.job_chunks WHERE job_id = $JOB_ID")
echo "== job $JOB_ID purged: $purged chunks deleted, $left left"
if [ "$purged" != "$CHUNKS" ] || [ "$left" != 0 ]; then
	echo "FAILED: expected the purge to delete $CHUNKS chunks and leave none" >&2
	exit 1
fi
echo "== demo passed: all $total chunks completed, then purged"
