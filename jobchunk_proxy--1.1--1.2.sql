/* jobchunk_proxy--1.1--1.2.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION jobchunk_proxy UPDATE TO '1.2'" to load this file. \quit

--
-- jobchunk 1.8's heartbeat for a batch goes to one shard, like a batch
-- completion: its rows come in id order from one call, and a bad array is
-- refused as on one server.
--
CREATE FUNCTION @extschema@.jc_heartbeat_batch(chunk_ids bigint[], lease_tokens bigint[],
                                               extend interval DEFAULT NULL)
RETURNS TABLE (id bigint, lease_expires_at timestamptz) AS $$
    CLUSTER 'jobchunk';
    RUN ON @extschema@.jc_shard_of(chunk_ids);
$$ LANGUAGE plproxy;

REVOKE EXECUTE ON FUNCTION @extschema@.jc_heartbeat_batch(bigint[], bigint[], interval) FROM PUBLIC;

-- The refusal of a batch across shards names both kinds of batch.
CREATE OR REPLACE FUNCTION @extschema@.jc_shard_of(ids bigint[])
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
                  HINT = 'Complete the chunks, or extend their leases, for each job, or each shard (id >> 48), in a call of its own.';
    END IF;
    RETURN COALESCE(shards[1], 0);
END
$$;
