/* jobchunk--1.7--1.8.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION jobchunk UPDATE TO '1.8'" to load this file. \quit

--
-- A heartbeat for a batch.  A worker that claims chunks with jc_claim and
-- completes them with one jc_mark_completed needed a jc_heartbeat per chunk
-- to keep their leases; one call now extends every lease the worker still
-- holds, and returns a NULL expiry for each one it lost, where jc_heartbeat
-- would refuse: the worker learns all its losses at once, and keeps the
-- rest.  It has a name of its own: a second form of jc_heartbeat would make
-- a call whose parameters come without a type (asyncpg, pgx) ambiguous, as
-- jc_mark_completed's two forms are, and break workers that call
-- jc_heartbeat that way today.
--
CREATE FUNCTION @extschema@.jc_heartbeat_batch(chunk_ids bigint[], lease_tokens bigint[],
                                               extend interval DEFAULT NULL)
RETURNS TABLE (id bigint, lease_expires_at timestamptz)
AS 'MODULE_PATHNAME', 'jc_heartbeat_batch'
LANGUAGE C VOLATILE PARALLEL UNSAFE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION @extschema@.jc_heartbeat_batch(bigint[], bigint[], interval) IS
    'extend the leases of many claims still current, returning each new expiry, or NULL for a claim no longer current';

REVOKE EXECUTE ON FUNCTION @extschema@.jc_heartbeat_batch(bigint[], bigint[], interval) FROM PUBLIC;
