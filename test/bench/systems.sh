#!/usr/bin/env bash
# test/bench/systems.sh: the systems the benchmarks compare, and their
# pgbench scripts; sourced by run.sh and instructions.sh, which define sql()
# (psql as the postgres user), PGQ_BATCH and PGQ_CONSUMERS.  run.sh's header
# describes the systems; instructions.sh's, B1c, which only it runs.

# The server settings of every benchmark (ALTER SYSTEM, then a restart)
# shellcheck disable=SC2034 # read by the scripts that source this one
SETTINGS=(
	shared_buffers=1GB
	max_connections=100
	synchronous_commit=on
	fsync=on
	max_wal_size=8GB
	checkpoint_timeout=30min
	maintenance_work_mem=256MB
	effective_cache_size=4GB
	jit=off
)

# jobchunk, PgQ, and the tables and functions of B0, B1, B1a, B1c and B2
create_systems() {
sql >/dev/null <<SQL
CREATE EXTENSION jobchunk;
CREATE EXTENSION pgq;
CREATE SCHEMA bench;

-- B0: the limit
CREATE TABLE bench.b0 (
	id bigint PRIMARY KEY,
	status text NOT NULL DEFAULT 'pending',
	updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO bench.b0 (id) SELECT generate_series(1, 100000);

-- B1, B1a, B1c and B2: the same table as jobchunk's, the same indexes and checks
-- (LIKE ... INCLUDING ALL copies what is installed now), and a jobs table of
-- their own to reference; B1c also a table like job_counts for its counts;
-- each with the storage options of jobchunk's table
DO \$\$
DECLARE
	c record;
	opts text;
BEGIN
	FOR c IN SELECT * FROM (VALUES ('crawl_jobs', 'b1_jobs', NULL), ('job_chunks', 'b1_chunks', 'b1_jobs'),
			('crawl_jobs', 'b1a_jobs', NULL), ('job_chunks', 'b1a_chunks', 'b1a_jobs'),
			('crawl_jobs', 'b1c_jobs', NULL), ('job_chunks', 'b1c_chunks', 'b1c_jobs'),
			('job_counts', 'b1c_counts', 'b1c_jobs'),
			('crawl_jobs', 'b2_jobs', NULL), ('job_chunks', 'b2_chunks', 'b2_jobs'))
			AS t(source, target, jobs) LOOP
		EXECUTE format('CREATE TABLE bench.%I (LIKE jobchunk.%I INCLUDING ALL)',
			c.target, c.source);
		IF c.jobs IS NOT NULL THEN
			EXECUTE format('ALTER TABLE bench.%I ADD FOREIGN KEY (job_id) '
				'REFERENCES bench.%I (id) ON DELETE CASCADE', c.target, c.jobs);
		END IF;
		SELECT array_to_string(reloptions, ', ') INTO opts
		FROM pg_class WHERE oid = format('jobchunk.%I', c.source)::regclass;
		IF opts IS NOT NULL THEN
			EXECUTE format('ALTER TABLE bench.%I SET (%s)', c.target, opts);
		END IF;
	END LOOP;
END
\$\$;

-- B2: B1's statements as PL/pgSQL functions
CREATE FUNCTION bench.b2_claim(p_job bigint)
RETURNS TABLE (id bigint, lease_token bigint)
LANGUAGE plpgsql AS \$\$
#variable_conflict use_column
BEGIN
	RETURN QUERY
	UPDATE bench.b2_chunks AS c
	SET status = 'processing', task_id = NULL, lease_token = c.lease_token + 1,
		lease_expires_at = now() + interval '5 minutes', updated_at = now()
	WHERE c.id = (SELECT n.id FROM bench.b2_chunks AS n
		WHERE n.job_id = p_job AND n.status = 'pending'
		ORDER BY n.priority DESC, n.created_at, n.id
		LIMIT 1 FOR UPDATE SKIP LOCKED)
	RETURNING c.id, c.lease_token;
END
\$\$;

CREATE FUNCTION bench.b2_complete(p_id bigint, p_token bigint)
RETURNS void
LANGUAGE plpgsql AS \$\$
BEGIN
	UPDATE bench.b2_chunks AS c
	SET status = 'completed', lease_expires_at = NULL, error_message = NULL,
		updated_at = now()
	WHERE c.id = p_id AND c.lease_token = p_token AND c.status = 'processing';
	IF NOT FOUND THEN
		RAISE EXCEPTION 'chunk % is not processing under token %', p_id, p_token
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
END
\$\$;

-- PgQ: a queue that ticks every $PGQ_BATCH events, one consumer per client
SELECT pgq.create_queue('bench');
SELECT pgq.set_queue_config('bench', 'ticker_max_count', '$PGQ_BATCH');
SELECT pgq.ticker('bench');
SELECT count(pgq.register_consumer('bench', 'c' || i))
FROM generate_series(0, $PGQ_CONSUMERS - 1) AS i;
SQL
sql -c "VACUUM ANALYZE"
}

# B1's claim of the next pending chunk of job :job in TABLE, as an UPDATE
# without its RETURNING clause (B1c puts it in a CTE)
b1_claim() {
	cat <<EOF
UPDATE bench.$1 AS c
SET status = 'processing', task_id = NULL, lease_token = c.lease_token + 1,
	lease_expires_at = now() + interval '5 minutes', updated_at = now()
WHERE c.id = (SELECT n.id FROM bench.$1 AS n
	WHERE n.job_id = :job AND n.status = 'pending'
	ORDER BY n.priority DESC, n.created_at, n.id
	LIMIT 1 FOR UPDATE SKIP LOCKED)
EOF
}

# the pgbench scripts, one file per system in DIR, variables from -D
write_scripts() {
	local dir=$1
cat >"$dir/B0.sql" <<'EOF'
\set id random(1, 100000)
UPDATE bench.b0 SET status = 'processing', updated_at = now() WHERE id = :id;
\set id random(1, 100000)
UPDATE bench.b0 SET status = 'completed', updated_at = now() WHERE id = :id;
EOF
cat >"$dir/B1.sql" <<EOF
$(b1_claim b1_chunks)
RETURNING c.id, c.lease_token AS token \gset
UPDATE bench.b1_chunks
SET status = 'completed', lease_expires_at = NULL, error_message = NULL, updated_at = now()
WHERE id = :id AND lease_token = :token AND status = 'processing'
RETURNING id AS done \gset
EOF
sed -e 's/b1_chunks/b1a_chunks/g' \
	-e "s/^RETURNING c.id, c.lease_token AS token/AND (SELECT pg_catalog.set_config('synchronous_commit', 'off', true)) = 'off'\\n&/" \
	"$dir/B1.sql" >"$dir/B1a.sql"
# B1c: each of B1's statements also adds its change to the job's counts,
# in the client's stripe, as jobchunk's JC_COUNT does: b1c_counted SOURCE
# PROCESSING COMPLETED is that CTE, for the rows of SOURCE
b1c_counted() {
	cat <<EOF
counted AS (INSERT INTO bench.b1c_counts AS k (job_id, stripe, processing, completed, failed, updated_at)
SELECT d.job_id, :stripe, sum($2), sum($3), sum(0), clock_timestamp()
FROM $1 AS d GROUP BY d.job_id ORDER BY d.job_id
ON CONFLICT (job_id, stripe) DO UPDATE SET processing = k.processing + excluded.processing,
	completed = k.completed + excluded.completed, failed = k.failed + excluded.failed,
	updated_at = clock_timestamp())
EOF
}
cat >"$dir/B1c.sql" <<EOF
\set stripe :client_id % 64
WITH claimed AS ($(b1_claim b1c_chunks)
RETURNING c.id, c.lease_token, c.job_id),
$(b1c_counted claimed 1 0)
SELECT id, lease_token AS token FROM claimed \gset
WITH changed AS (UPDATE bench.b1c_chunks
SET status = 'completed', lease_expires_at = NULL, error_message = NULL, updated_at = now()
WHERE id = :id AND lease_token = :token AND status = 'processing'
RETURNING id, job_id),
$(b1c_counted changed -1 1)
SELECT id AS done FROM changed \gset
EOF
cat >"$dir/B2.sql" <<'EOF'
SELECT id, lease_token AS token FROM bench.b2_claim(:job) \gset
SELECT bench.b2_complete(:id, :token);
EOF
# \gset fails the client when a claim finds nothing: a drained queue stops the run
cat >"$dir/jobchunk.sql" <<'EOF'
SELECT id, lease_token AS token FROM jobchunk.jc_next_pending(:job::bigint) \gset
SELECT id AS done FROM jobchunk.jc_mark_completed(:id::bigint, :token::bigint) \gset
EOF
cp "$dir/jobchunk.sql" "$dir/jobchunk-1job.sql"
cat >"$dir/jobchunk-32jobs.sql" <<'EOF'
\set job :first_job + :client_id
SELECT id, lease_token AS token FROM jobchunk.jc_next_pending(:job::bigint) \gset
SELECT id AS done FROM jobchunk.jc_mark_completed(:id::bigint, :token::bigint) \gset
EOF
# pgbench's \gset takes one row: the batch travels as two arrays in text form,
# sent back as parameters of the prepared statement.  A short batch means a
# drained job: 1 / 0 fails the client.
for n in 10 50; do
	cat >"$dir/jobchunk-n$n.sql" <<'EOF'
SELECT array_agg(id) AS ids, array_agg(lease_token) AS tokens, count(*) AS claimed
FROM jobchunk.jc_claim(:job::bigint, :batch::integer) \gset
\if :claimed != :batch
\set drained 1 / 0
\endif
SELECT count(*) AS completed FROM jobchunk.jc_mark_completed(:ids::bigint[], :tokens::bigint[]) \gset
\if :completed != :batch
\set lost 1 / 0
\endif
EOF
done
cat >"$dir/pgq.sql" <<'EOF'
BEGIN;
SELECT pgq.next_batch('bench', 'c' || :client_id) AS batch_id \gset
SELECT count(*) AS events FROM pgq.get_batch_events(:batch_id::bigint) \gset
COMMIT;
\if :events != :batch
\set drained 1 / 0
\endif
SELECT pgq.finish_batch(:batch_id::bigint);
EOF
chmod 644 "$dir"/*.sql
}

# chunks (jobchunk) or rows (B1, B2) of a new job of N, in the system's table
new_job() {
	local sys=$1 n=$2 job
	case $sys in
	B1 | B1a | B1c | B2)
		local t=bench.${sys,,}
		job=$(sql -c "INSERT INTO ${t}_jobs (name) VALUES ('$sys') RETURNING id")
		sql -c "SET synchronous_commit = off" -c "
			INSERT INTO ${t}_chunks (job_id, chunk_index, status, priority, image_range)
			SELECT $job, i, 'pending', 5, jsonb_build_object('start', i, 'end', i)
			FROM generate_series(0, $n - 1) AS i" -c "ANALYZE ${t}_chunks, ${t}_jobs" >/dev/null
		# B1c: the job's counts, all its stripes, as jc_create_chunks() makes them
		[ "$sys" = B1c ] && sql -c "INSERT INTO bench.b1c_counts (job_id, stripe, total)
			SELECT $job, s, CASE WHEN s = 0 THEN $n ELSE 0 END FROM generate_series(0, 63) AS s"
		;;
	*)
		job=$(sql -c "INSERT INTO jobchunk.crawl_jobs (name) VALUES ('$sys') RETURNING id")
		sql -c "SET synchronous_commit = off" -c "SET jobchunk.chunk_size = 1" \
			-c "SELECT count(*) FROM jobchunk.jc_create_chunks($job, $n)" \
			-c "ANALYZE jobchunk.job_chunks, jobchunk.crawl_jobs, jobchunk.job_counts" >/dev/null
		;;
	esac
	echo "$job"
}
