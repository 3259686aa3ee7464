/* jobchunk--1.8--1.9.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION jobchunk UPDATE TO '1.9'" to load this file. \quit

--
-- Giving chunks back.  A worker that stops (a deploy, a scale-down) while it
-- holds chunks it has not worked on left them processing until their
-- leases ran out, and then each came back as a retry.  jc_release makes
-- every chunk the caller still holds pending again at once, as it was
-- before the claim: no retry is counted, and the chunk keeps its place in
-- claim order.  In a cancelled job a released chunk fails instead, as an
-- expired one does.  Chunks the caller no longer holds are left as they
-- are.  lease_tokens has no default: a release without tokens (NULL) gives
-- the chunks back whoever holds them, and must be asked for.
--
CREATE FUNCTION @extschema@.jc_release(chunk_ids bigint[], lease_tokens bigint[])
RETURNS SETOF @extschema@.job_chunks
AS 'MODULE_PATHNAME', 'jc_release'
LANGUAGE C VOLATILE PARALLEL UNSAFE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION @extschema@.jc_release(bigint[], bigint[]) IS
    'give back the chunks still held under their lease tokens: pending again at once, no retry counted';

REVOKE EXECUTE ON FUNCTION @extschema@.jc_release(bigint[], bigint[]) FROM PUBLIC;
