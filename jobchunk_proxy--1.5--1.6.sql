/* jobchunk_proxy--1.5--1.6.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION jobchunk_proxy UPDATE TO '1.6'" to load this file. \quit

--
-- jobchunk 1.10's jc_job goes to the job's shard: through the proxy, the
-- rows of jobs could be read on the shards only.  A shard of jobchunk 1.9
-- or older answers that the function does not exist (42883).
--
CREATE FUNCTION @extschema@.jc_job(job_id bigint)
RETURNS TABLE (id bigint, name text, state text,
               created_at timestamptz, updated_at timestamptz) AS $$
    CLUSTER 'jobchunk';
    RUN ON @extschema@.jc_shard_of(job_id);
$$ LANGUAGE plproxy;

REVOKE EXECUTE ON FUNCTION @extschema@.jc_job(bigint) FROM PUBLIC;

--
-- Whether partition k of the cluster is the database numbered k, for
-- each k: the calls by id rely on it, and up to 1.5 a job made through
-- a partition was the only check (partitions listed out of order sent the
-- calls for the jobs already there to other shards, which answered P0002,
-- as for purged jobs).  Run it after each change of server jobchunk.  It
-- asks each partition's jobchunk (1.10 or later) for its number, through
-- jc_shard_on(), which is not granted to anyone, and takes partition
-- numbers 0 to jc_shards() - 1 (PL/Proxy takes any other modulo the number
-- of partitions).  An error of a partition is raised naming it.
--
CREATE FUNCTION @extschema@.jc_shard_on(shard integer)
RETURNS integer AS $$
    CLUSTER 'jobchunk';
    RUN ON shard;
    SELECT jobchunk.jc_shard();
$$ LANGUAGE plproxy;

CREATE FUNCTION @extschema@.jc_check_shards()
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    shards integer := @extschema@.jc_shards();
    numbered integer;
    wrong text[] := '{}';
    failed_state text;
    failed_message text;
    failed_detail text;
    failed_hint text;
BEGIN
    FOR k IN 0 .. shards OPERATOR(pg_catalog.-) 1 LOOP
        BEGIN
            numbered := @extschema@.jc_shard_on(k);
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS failed_state = RETURNED_SQLSTATE,
                                    failed_message = MESSAGE_TEXT,
                                    failed_detail = PG_EXCEPTION_DETAIL,
                                    failed_hint = PG_EXCEPTION_HINT;
            RAISE EXCEPTION 'partition % of cluster "jobchunk": %', k,
                    pg_catalog.rtrim(failed_message, E'\n')
                USING ERRCODE = failed_state,
                      DETAIL = pg_catalog.format('%sThe partitions after it were not checked.',
                                                 CASE WHEN failed_detail OPERATOR(pg_catalog.<>) ''
                                                 THEN failed_detail OPERATOR(pg_catalog.||) E'\n' END),
                      HINT = CASE WHEN failed_state OPERATOR(pg_catalog.=) '42883'
                             THEN pg_catalog.format('Update the database of partition %s to jobchunk 1.10 or later.', k)
                             WHEN failed_state OPERATOR(pg_catalog.=) '42704'
                             THEN 'Check as a role that has a user mapping for server jobchunk (SET ROLE crawler, say).'
                             WHEN failed_hint OPERATOR(pg_catalog.<>) '' THEN failed_hint
                             ELSE 'Mend what the error names, then check again.' END;
        END;
        IF numbered IS DISTINCT FROM k THEN
            wrong := wrong OPERATOR(pg_catalog.||)
                pg_catalog.format('partition %s is shard %s', k, numbered);
        END IF;
    END LOOP;
    IF pg_catalog.cardinality(wrong) OPERATOR(pg_catalog.>) 0 THEN
        RAISE EXCEPTION 'the partitions of cluster "jobchunk" are not the shards of their numbers'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = pg_catalog.format('In server jobchunk, %s.', pg_catalog.array_to_string(wrong, ', ')),
                  HINT = 'List the partitions in the order of their numbers (SELECT jobchunk.jc_shard() on each), and number a new database with jobchunk.jc_set_shard(k) before its first job.';
    END IF;
    RETURN shards;
END
$$;

REVOKE EXECUTE ON FUNCTION
    @extschema@.jc_shard_on(integer),
    @extschema@.jc_check_shards()
FROM PUBLIC;
