/* jobchunk_proxy--1.0.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION jobchunk_proxy" to load this file. \quit

-- The schema must belong to a superuser, hold nothing yet, and no other
-- role may create objects in it: the functions are SECURITY DEFINER, and an
-- object another role put in their schema (an overload of one of them, say)
-- would be called in their place and run with its caller's privileges, a
-- superuser's among them.  CREATE EXTENSION makes the schema, the caller's,
-- when it does not exist.
DO $$
BEGIN
    -- The two extensions share a schema and their functions' names: one
    -- database holds one of them.
    IF EXISTS (SELECT FROM pg_catalog.pg_extension AS e
               WHERE e.extname OPERATOR(pg_catalog.=) 'jobchunk') THEN
        RAISE EXCEPTION 'extension jobchunk is installed in this database'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'This database is a shard, which holds jobs and chunks; jobchunk_proxy defines functions of the same names that send each call to a shard.',
                  HINT = 'Create jobchunk_proxy in a database of its own in front of the shards.';
    END IF;
    IF EXISTS (SELECT FROM pg_catalog.pg_namespace AS n
               JOIN pg_catalog.pg_roles AS r ON r.oid OPERATOR(pg_catalog.=) n.nspowner
               WHERE n.oid OPERATOR(pg_catalog.=) '@extschema@'::pg_catalog.regnamespace
               AND (NOT r.rolsuper OR EXISTS (
                   SELECT FROM pg_catalog.aclexplode(n.nspacl) AS a
                   WHERE a.privilege_type OPERATOR(pg_catalog.=) 'CREATE'
                   AND a.grantee OPERATOR(pg_catalog.<>) n.nspowner) OR EXISTS (
                   SELECT FROM pg_catalog.pg_depend AS d
                   WHERE d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_namespace'::pg_catalog.regclass
                   AND d.refobjid OPERATOR(pg_catalog.=) n.oid
                   AND d.classid OPERATOR(pg_catalog.<>) 'pg_catalog.pg_extension'::pg_catalog.regclass))) THEN
        RAISE EXCEPTION 'schema @extschema@ is not safe for extension jobchunk_proxy'
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'The schema belongs to a role that is not a superuser, holds objects already, or a role other than its owner may create objects in it.',
                  HINT = 'Drop the schema; CREATE EXTENSION makes it.';
    END IF;
END
$$;

--
-- jobchunk across several databases, the shards, each with jobchunk 1.4 or
-- later, behind this database: the PL/Proxy cluster named jobchunk (CREATE
-- SERVER jobchunk FOREIGN DATA WRAPPER plproxy OPTIONS (p0 '...', p1 '...',
-- ...), a power of two of them).  Shard k numbers its jobs and chunks from
-- k * 2^48 (jobchunk.jc_set_shard(k) on the shard), so the functions below
-- send each call to the shard that holds the job or chunk it names, by id
-- alone.  They have the names, arguments and results of jobchunk's, and run
-- them on the shard, where each call commits on its own.
--

CREATE TYPE @extschema@.job_chunks AS (
    id                  bigint,
    job_id              bigint,
    chunk_index         integer,
    status              text,
    priority            integer,
    image_range         jsonb,
    error_message       text,
    retry_count         integer,
    task_id             varchar(255),
    created_at          timestamptz,
    updated_at          timestamptz,
    lease_expires_at    timestamptz,
    lease_token         bigint
);

--
-- Routing
--

-- The shard of a job or chunk id.  A NULL id goes to shard 0, whose
-- jobchunk refuses it as it would on one server.
CREATE FUNCTION @extschema@.jc_shard_of(id bigint)
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$SELECT COALESCE((id OPERATOR(pg_catalog.>>) 48)::integer, 0)$$;

-- The one shard of all the chunks of a batch (shard 0 for none).  NULL
-- elements are left for the shard to refuse.
CREATE FUNCTION @extschema@.jc_shard_of(ids bigint[])
RETURNS integer
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    shards integer[] := ARRAY(SELECT DISTINCT @extschema@.jc_shard_of(i)
                              FROM pg_catalog.unnest(ids) AS i
                              WHERE i IS NOT NULL);
BEGIN
    IF pg_catalog.cardinality(shards) OPERATOR(pg_catalog.>) 1 THEN
        RAISE EXCEPTION 'chunks of one call must be on one shard'
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = pg_catalog.format('The chunks are on shards %s.', shards),
                  HINT = 'Complete the chunks of each job, or of each shard (id >> 48), in a call of their own.';
    END IF;
    RETURN COALESCE(shards[1], 0);
END
$$;

-- How many shards the cluster has: its SQL/MED server's partitions.
CREATE FUNCTION @extschema@.jc_shards()
RETURNS integer
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    shards integer := (SELECT pg_catalog.count(*)
                       FROM pg_catalog.pg_foreign_server AS s,
                            pg_catalog.pg_options_to_table(s.srvoptions) AS o
                       WHERE s.srvname OPERATOR(pg_catalog.=) 'jobchunk'
                       AND o.option_name OPERATOR(pg_catalog.~) '^(p|partition_)[0-9]+$');
BEGIN
    IF shards OPERATOR(pg_catalog.=) 0 THEN
        RAISE EXCEPTION 'PL/Proxy cluster "jobchunk" has no shards'
            USING ERRCODE = 'undefined_object',
                  HINT = 'Define them with CREATE SERVER jobchunk FOREIGN DATA WRAPPER plproxy OPTIONS (p0 ''...'', p1 ''...'').';
    END IF;
    RETURN shards;
END
$$;

--
-- Jobs and chunks
--

-- A new job goes to a shard at random.
CREATE FUNCTION @extschema@.jc_create_job(name text DEFAULT NULL)
RETURNS bigint AS $$
    CLUSTER 'jobchunk';
    RUN ON ANY;
$$ LANGUAGE plproxy;

CREATE FUNCTION @extschema@.jc_create_chunks(job_id bigint, max_images bigint,
                                             priority integer DEFAULT 5)
RETURNS SETOF @extschema@.job_chunks AS $$
    CLUSTER 'jobchunk';
    RUN ON @extschema@.jc_shard_of(job_id);
$$ LANGUAGE plproxy;

CREATE FUNCTION @extschema@.jc_mark_processing(chunk_id bigint,
                                               task_id text DEFAULT NULL,
                                               lease interval DEFAULT NULL)
RETURNS @extschema@.job_chunks AS $$
    CLUSTER 'jobchunk';
    RUN ON @extschema@.jc_shard_of(chunk_id);
$$ LANGUAGE plproxy;

CREATE FUNCTION @extschema@.jc_mark_completed(chunk_id bigint,
                                              lease_token bigint DEFAULT NULL)
RETURNS @extschema@.job_chunks AS $$
    CLUSTER 'jobchunk';
    RUN ON @extschema@.jc_shard_of(chunk_id);
$$ LANGUAGE plproxy;

-- All or none, so on one shard only.
CREATE FUNCTION @extschema@.jc_mark_completed(chunk_ids bigint[],
                                              lease_tokens bigint[] DEFAULT NULL)
RETURNS SETOF @extschema@.job_chunks AS $$
    CLUSTER 'jobchunk';
    RUN ON @extschema@.jc_shard_of(chunk_ids);
$$ LANGUAGE plproxy;

CREATE FUNCTION @extschema@.jc_mark_failed(chunk_id bigint, error_message text,
                                           lease_token bigint DEFAULT NULL)
RETURNS @extschema@.job_chunks AS $$
    CLUSTER 'jobchunk';
    RUN ON @extschema@.jc_shard_of(chunk_id);
$$ LANGUAGE plproxy;

CREATE FUNCTION @extschema@.jc_retry(chunk_id bigint)
RETURNS @extschema@.job_chunks AS $$
    CLUSTER 'jobchunk';
    RUN ON @extschema@.jc_shard_of(chunk_id);
$$ LANGUAGE plproxy;

CREATE FUNCTION @extschema@.jc_heartbeat(chunk_id bigint, lease_token bigint,
                                         extend interval DEFAULT NULL)
RETURNS timestamptz AS $$
    CLUSTER 'jobchunk';
    RUN ON @extschema@.jc_shard_of(chunk_id);
$$ LANGUAGE plproxy;

--
-- Claiming.  A claim of one job goes to its shard.  A claim of any job
-- tries the shards in turn from one picked at random, until it has the
-- chunks asked for or has tried them all; each shard's claim commits on its
-- own.  A shard that fails is passed over; if no other shard had chunks to
-- give, the first that failed is tried once more, and its error raised.
--

CREATE FUNCTION @extschema@.jc_claim_on(shard integer, job_id bigint, n integer,
                                        task_id text, lease interval)
RETURNS SETOF @extschema@.job_chunks AS $$
    CLUSTER 'jobchunk';
    RUN ON shard;
    SELECT * FROM jobchunk.jc_claim(job_id, n, task_id, lease);
$$ LANGUAGE plproxy;

CREATE FUNCTION @extschema@.jc_claim(job_id bigint, n integer,
                                     task_id text DEFAULT NULL,
                                     lease interval DEFAULT NULL)
RETURNS SETOF @extschema@.job_chunks
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    shards integer;
    first_shard integer;
    claimed bigint := 0;
    got bigint;
    shard integer;
    failed_shard integer;
BEGIN
    -- One job, or an n its shard will refuse: one shard answers.
    IF $1 IS NOT NULL OR $2 IS NULL OR $2 OPERATOR(pg_catalog.<) 1 THEN
        RETURN QUERY SELECT * FROM @extschema@.jc_claim_on(
            @extschema@.jc_shard_of($1), $1, $2, $3, $4);
        RETURN;
    END IF;

    shards := @extschema@.jc_shards();
    first_shard := pg_catalog.floor(pg_catalog.random() OPERATOR(pg_catalog.*) shards);
    FOR i IN 0 .. shards OPERATOR(pg_catalog.-) 1 LOOP
        shard := (first_shard OPERATOR(pg_catalog.+) i) OPERATOR(pg_catalog.%) shards;
        BEGIN
            RETURN QUERY SELECT * FROM @extschema@.jc_claim_on(
                shard, NULL, $2 OPERATOR(pg_catalog.-) claimed::integer, $3, $4);
            GET DIAGNOSTICS got = ROW_COUNT;
        EXCEPTION WHEN OTHERS THEN
            failed_shard := COALESCE(failed_shard, shard);
            got := 0;
        END;
        claimed := claimed OPERATOR(pg_catalog.+) got;
        EXIT WHEN claimed OPERATOR(pg_catalog.>=) $2;
    END LOOP;

    IF claimed OPERATOR(pg_catalog.=) 0 AND failed_shard IS NOT NULL THEN
        RETURN QUERY SELECT * FROM @extschema@.jc_claim_on(
            failed_shard, NULL, $2, $3, $4);
    END IF;
END
$$;

CREATE FUNCTION @extschema@.jc_next_pending(job_id bigint DEFAULT NULL,
                                            task_id text DEFAULT NULL,
                                            lease interval DEFAULT NULL)
RETURNS SETOF @extschema@.job_chunks
LANGUAGE sql VOLATILE ROWS 1
SET search_path = pg_catalog, pg_temp
AS $$SELECT * FROM @extschema@.jc_claim($1, 1, $2, $3)$$;

--
-- Reading and statistics
--

CREATE FUNCTION @extschema@.jc_chunks(job_id bigint, status text DEFAULT NULL)
RETURNS SETOF @extschema@.job_chunks AS $$
    CLUSTER 'jobchunk';
    RUN ON @extschema@.jc_shard_of(job_id);
$$ LANGUAGE plproxy;

CREATE FUNCTION @extschema@.jc_chunk(chunk_id bigint)
RETURNS SETOF @extschema@.job_chunks AS $$
    CLUSTER 'jobchunk';
    RUN ON @extschema@.jc_shard_of(chunk_id);
$$ LANGUAGE plproxy;

CREATE FUNCTION @extschema@.jc_statistics(INOUT job_id bigint,
    OUT total bigint,
    OUT pending bigint,
    OUT processing bigint,
    OUT completed bigint,
    OUT failed bigint,
    OUT completion_percentage numeric,
    OUT success_rate numeric)
RETURNS record AS $$
    CLUSTER 'jobchunk';
    RUN ON @extschema@.jc_shard_of(job_id);
$$ LANGUAGE plproxy;

CREATE FUNCTION @extschema@.jc_progress(INOUT job_id bigint,
    OUT total_chunks bigint,
    OUT pending_chunks bigint,
    OUT processing_chunks bigint,
    OUT completed_chunks bigint,
    OUT failed_chunks bigint,
    OUT completion_percentage numeric,
    OUT success_rate numeric,
    OUT is_complete boolean,
    OUT "timestamp" timestamptz)
RETURNS record AS $$
    CLUSTER 'jobchunk';
    RUN ON @extschema@.jc_shard_of(job_id);
$$ LANGUAGE plproxy;

CREATE FUNCTION @extschema@.jc_is_complete(job_id bigint)
RETURNS boolean AS $$
    CLUSTER 'jobchunk';
    RUN ON @extschema@.jc_shard_of(job_id);
$$ LANGUAGE plproxy;

--
-- Job controls and retention
--

CREATE FUNCTION @extschema@.jc_pause_job(job_id bigint)
RETURNS void AS $$
    CLUSTER 'jobchunk';
    RUN ON @extschema@.jc_shard_of(job_id);
$$ LANGUAGE plproxy;

CREATE FUNCTION @extschema@.jc_resume_job(job_id bigint)
RETURNS void AS $$
    CLUSTER 'jobchunk';
    RUN ON @extschema@.jc_shard_of(job_id);
$$ LANGUAGE plproxy;

CREATE FUNCTION @extschema@.jc_cancel_job(job_id bigint)
RETURNS bigint AS $$
    CLUSTER 'jobchunk';
    RUN ON @extschema@.jc_shard_of(job_id);
$$ LANGUAGE plproxy;

CREATE FUNCTION @extschema@.jc_purge_job(job_id bigint)
RETURNS bigint AS $$
    CLUSTER 'jobchunk';
    RUN ON @extschema@.jc_shard_of(job_id);
$$ LANGUAGE plproxy;

-- Every shard purges its own jobs.
CREATE FUNCTION @extschema@.jc_purge_jobs(older_than interval)
RETURNS TABLE (job_id bigint, chunks bigint) AS $$
    CLUSTER 'jobchunk';
    RUN ON ALL;
$$ LANGUAGE plproxy;

--
-- As for jobchunk's own functions, no one may call these until granted:
-- the user mapping may connect every caller as one role on the shards.
-- The routing helpers, which read nothing but their arguments and the
-- cluster's definition, stay open; jc_claim_on() runs claims, so a role
-- that may claim is granted it with jc_claim() and jc_next_pending().
--
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA @extschema@ FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    @extschema@.jc_shard_of(bigint),
    @extschema@.jc_shard_of(bigint[]),
    @extschema@.jc_shards()
TO PUBLIC;
