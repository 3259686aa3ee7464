/* jobchunk_proxy--1.4--1.5.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION jobchunk_proxy UPDATE TO '1.5'" to load this file. \quit

--
-- An id of a shard the cluster does not have is refused (42704).  Up to
-- 1.4 PL/Proxy took its shard number modulo the number of partitions and
-- sent the call to another shard, which answered that the job or chunk
-- does not exist (P0002), as if it had been purged: after a shard was
-- removed from the server, say.  Reading the number of shards makes
-- jc_shard_of() STABLE, which an index, a partition key or a generated
-- column may not use (nor could a dump of them be restored): the update
-- refuses to run while one does.
--
DO $$
DECLARE
    users text := (
        SELECT pg_catalog.string_agg(pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid), ', ')
        FROM pg_catalog.pg_depend AS d
        WHERE d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
        AND d.refobjid OPERATOR(pg_catalog.=) ANY (ARRAY[
            '@extschema@.jc_shard_of(bigint)'::pg_catalog.regprocedure,
            '@extschema@.jc_shard_of(bigint[])'::pg_catalog.regprocedure]::pg_catalog.oid[])
        AND (d.classid OPERATOR(pg_catalog.=) ANY (ARRAY[
                 'pg_catalog.pg_class'::pg_catalog.regclass,
                 'pg_catalog.pg_statistic_ext'::pg_catalog.regclass]::pg_catalog.oid[])
             OR EXISTS (SELECT FROM pg_catalog.pg_attrdef AS ad
                        JOIN pg_catalog.pg_attribute AS a
                        ON a.attrelid OPERATOR(pg_catalog.=) ad.adrelid
                        AND a.attnum OPERATOR(pg_catalog.=) ad.adnum
                        WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_attrdef'::pg_catalog.regclass
                        AND ad.oid OPERATOR(pg_catalog.=) d.objid
                        AND a.attgenerated OPERATOR(pg_catalog.<>) '')));
BEGIN
    IF users IS NOT NULL THEN
        RAISE EXCEPTION 'jc_shard_of() is used by an index, a partition key, a generated column or extended statistics'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = pg_catalog.format('Used by %s; jobchunk_proxy 1.5 makes jc_shard_of() STABLE, as it reads the cluster''s partitions, and these need an IMMUTABLE function.', users),
                  HINT = 'Use id >> 48, the shard number jc_shard_of() computes, in their place, then update.';
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION @extschema@.jc_shard_of(id bigint)
RETURNS integer
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    shard integer := COALESCE((id OPERATOR(pg_catalog.>>) 48)::integer, 0);
    shards integer := @extschema@.jc_shards();
BEGIN
    IF shard OPERATOR(pg_catalog.>=) shards THEN
        RAISE EXCEPTION 'PL/Proxy cluster "jobchunk" has no shard %', shard
            USING ERRCODE = 'undefined_object',
                  DETAIL = pg_catalog.format('Id %s was numbered by shard %s (id >> 48), and the cluster has %s.', id, shard,
                                             CASE WHEN shards OPERATOR(pg_catalog.=) 1 THEN 'one shard'
                                             ELSE shards::text OPERATOR(pg_catalog.||) ' shards' END),
                  HINT = 'Add the database numbered so to server jobchunk, or look for the id there.';
    END IF;
    RETURN shard;
END
$$;

--
-- The chunks of a batch on several shards are refused with 22023 (the
-- arguments cannot be served by one call), no longer with 0A000, which
-- jobchunk raises for a library and SQL of different versions and which
-- workers retry.  The shard number is checked once, not once a chunk.
--
CREATE OR REPLACE FUNCTION @extschema@.jc_shard_of(ids bigint[])
RETURNS integer
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    shards bigint[];
    some_id bigint;
BEGIN
    SELECT pg_catalog.array_agg(DISTINCT i OPERATOR(pg_catalog.>>) 48), pg_catalog.min(i)
    INTO shards, some_id
    FROM pg_catalog.unnest(ids) AS i
    WHERE i IS NOT NULL;
    IF pg_catalog.cardinality(shards) OPERATOR(pg_catalog.>) 1 THEN
        RAISE EXCEPTION 'chunks of one call must be on one shard'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('The chunks are on shards %s.', shards),
                  HINT = 'Make one call for the chunks of each job, or of each shard (id >> 48).';
    END IF;
    RETURN @extschema@.jc_shard_of(some_id);
END
$$;

--
-- A new job goes to a shard picked at random, as before, but is refused
-- (55000) when its id does not name the partition that made it: that
-- partition's database was not numbered with jc_set_shard(), or the
-- partitions are listed out of order.  Up to 1.4 its id was returned, and
-- the calls for the job went by that id to another shard, where they found
-- another job of the same id, or none.  The job is made through
-- jc_create_job_on(), not granted to anyone, as jc_claim_on() is for
-- claims: a role that creates jobs needs both.
--
CREATE FUNCTION @extschema@.jc_create_job_on(shard integer, name text)
RETURNS bigint AS $$
    CLUSTER 'jobchunk';
    RUN ON shard;
    SELECT jobchunk.jc_create_job(name);
$$ LANGUAGE plproxy;

REVOKE EXECUTE ON FUNCTION @extschema@.jc_create_job_on(integer, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION @extschema@.jc_create_job(name text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    shard integer;
    job bigint;
BEGIN
    IF NOT pg_catalog.has_function_privilege(
            '@extschema@.jc_create_job_on(integer, text)', 'EXECUTE') THEN
        RAISE EXCEPTION 'permission denied for function jc_create_job_on'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'A new job is made through jc_create_job_on(integer, text): grant EXECUTE on it to every role granted jc_create_job(text).';
    END IF;
    shard := pg_catalog.floor(pg_catalog.random() OPERATOR(pg_catalog.*) @extschema@.jc_shards());
    job := @extschema@.jc_create_job_on(shard, $1);
    IF job OPERATOR(pg_catalog.>>) 48 OPERATOR(pg_catalog.<>) shard THEN
        RAISE EXCEPTION 'partition % of cluster "jobchunk" numbers its jobs as shard %',
                shard, job OPERATOR(pg_catalog.>>) 48
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = pg_catalog.format('It made job %s, whose id would send the calls for the job elsewhere.', job),
                  HINT = 'Check each partition''s database with SELECT last_value >> 48 FROM jobchunk.crawl_jobs_id_seq: list the partitions in that order, and number a new database with jobchunk.jc_set_shard(k) before its first job.';
    END IF;
    RETURN job;
END
$$;
