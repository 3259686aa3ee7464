/* jobchunk_proxy--1.3--1.4.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION jobchunk_proxy UPDATE TO '1.4'" to load this file. \quit

--
-- A purge by age reaches every shard it can.  Up to 1.3 it was one call RUN
-- ON ALL, which PL/Proxy abandons at the first shard it cannot connect to or
-- that fails: the shards whose query had not been sent yet purged nothing,
-- so one shard down stopped retention on every shard.  Now each shard is
-- called in turn, from one picked at random (so that a shard whose call
-- never returns does not always hold up the same others), and a shard that
-- fails is named in a WARNING and tried once more at the end, where its
-- error, if it fails again, is the call's.  The rows of the shards that
-- purged are then not returned, as before, but their purges have
-- committed.  An argument every shard refuses is refused at the first, and
-- so is a caller not granted jc_purge_jobs_on(), which every shard's call
-- would refuse on the proxy.
--
CREATE FUNCTION @extschema@.jc_purge_jobs_on(shard integer, older_than interval)
RETURNS TABLE (job_id bigint, chunks bigint) AS $$
    CLUSTER 'jobchunk';
    RUN ON shard;
    SELECT * FROM jobchunk.jc_purge_jobs(older_than);
$$ LANGUAGE plproxy;

CREATE OR REPLACE FUNCTION @extschema@.jc_purge_jobs(older_than interval)
RETURNS TABLE (job_id bigint, chunks bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    shards integer := @extschema@.jc_shards();
    first_shard integer := pg_catalog.floor(pg_catalog.random() OPERATOR(pg_catalog.*) shards);
    failed integer[] := '{}';
    shard integer;
BEGIN
    IF NOT pg_catalog.has_function_privilege(
            '@extschema@.jc_purge_jobs_on(integer, interval)', 'EXECUTE') THEN
        RAISE EXCEPTION 'permission denied for function jc_purge_jobs_on'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'A purge by age calls jc_purge_jobs_on(integer, interval) for each shard: grant EXECUTE on it to every role granted jc_purge_jobs(interval).';
    END IF;
    FOR i IN 0 .. shards OPERATOR(pg_catalog.-) 1 LOOP
        shard := (first_shard OPERATOR(pg_catalog.+) i) OPERATOR(pg_catalog.%) shards;
        BEGIN
            RETURN QUERY SELECT * FROM @extschema@.jc_purge_jobs_on(shard, $1);
        EXCEPTION
            WHEN data_exception THEN
                RAISE;
            WHEN OTHERS THEN
                RAISE WARNING 'shard %: %', shard, SQLERRM USING ERRCODE = SQLSTATE;
                failed := failed OPERATOR(pg_catalog.||) shard;
        END;
    END LOOP;

    FOREACH shard IN ARRAY failed LOOP
        RETURN QUERY SELECT * FROM @extschema@.jc_purge_jobs_on(shard, $1);
    END LOOP;
END
$$;

-- As jc_claim_on() for claims: a role that purges by age is granted it
-- with jc_purge_jobs().
REVOKE EXECUTE ON FUNCTION @extschema@.jc_purge_jobs_on(integer, interval) FROM PUBLIC;
