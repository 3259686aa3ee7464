/* jobchunk_proxy--1.0--1.1.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION jobchunk_proxy UPDATE TO '1.1'" to load this file. \quit

--
-- A claim of any job passes over a shard silently only when it cannot reach
-- it: PL/Proxy's own errors (internal_error: a connection refused or lost,
-- a timeout) and a shard's admin_shutdown or crash_shutdown.  Any other
-- error of a shard (a privilege missing there, the shard's jobchunk needing
-- its update, a serialization failure) is raised when no chunk has been
-- claimed yet, and sent as a WARNING otherwise: the chunks claimed on other
-- shards have committed there, and are returned.  In 1.0 every error was
-- passed over while another shard had chunks, so a shard that refused the
-- caller was left unclaimed without a word.
--
CREATE OR REPLACE FUNCTION @extschema@.jc_claim(job_id bigint, n integer,
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
        EXCEPTION
            WHEN internal_error OR admin_shutdown OR crash_shutdown THEN
                failed_shard := COALESCE(failed_shard, shard);
                got := 0;
            WHEN OTHERS THEN
                IF claimed OPERATOR(pg_catalog.=) 0 THEN
                    RAISE;
                END IF;
                RAISE WARNING '%', SQLERRM USING ERRCODE = SQLSTATE;
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
