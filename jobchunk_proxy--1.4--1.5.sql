/* jobchunk_proxy--1.4--1.5.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION jobchunk_proxy UPDATE TO '1.5'" to load this file. \quit

--
-- An id of a shard the cluster does not have is refused (42704).  Up to
-- 1.4 PL/Proxy took its shard number modulo the number of partitions and
-- sent the call to another shard, which answered that the job or chunk
-- does not exist (P0002), as if it had been purged: after a shard was
-- removed from the server, say.  Reading the number of shards makes
-- jc_shard_of() STABLE.
--
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
    shards bigint[] := ARRAY(SELECT DISTINCT i OPERATOR(pg_catalog.>>) 48
                             FROM pg_catalog.unnest(ids) AS i
                             WHERE i IS NOT NULL);
BEGIN
    IF pg_catalog.cardinality(shards) OPERATOR(pg_catalog.>) 1 THEN
        RAISE EXCEPTION 'chunks of one call must be on one shard'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('The chunks are on shards %s.', shards),
                  HINT = 'Make one call for the chunks of each job, or of each shard (id >> 48).';
    END IF;
    RETURN @extschema@.jc_shard_of(shards[1] OPERATOR(pg_catalog.<<) 48);
END
$$;
