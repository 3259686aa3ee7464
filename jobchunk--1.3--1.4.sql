/* jobchunk--1.3--1.4.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION jobchunk UPDATE TO '1.4'" to load this file. \quit

--
-- Scaling out.  Several databases with jobchunk, the shards, can serve one
-- fleet behind a PL/Proxy database (the jobchunk_proxy extension).  Each
-- shard numbers its jobs and chunks in a range of its own, so that an id
-- alone tells the proxy which shard holds it; and a job is created by a
-- function call, which the proxy can send to a shard.
--
CREATE FUNCTION @extschema@.jc_create_job(name text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'jc_create_job'
LANGUAGE C VOLATILE PARALLEL UNSAFE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION @extschema@.jc_set_shard(shard integer)
RETURNS void
AS 'MODULE_PATHNAME', 'jc_set_shard'
LANGUAGE C VOLATILE PARALLEL UNSAFE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION @extschema@.jc_create_job(text) IS
    'create a job (a row of crawl_jobs) and return its id';
COMMENT ON FUNCTION @extschema@.jc_set_shard(integer) IS
    'number this database''s new jobs and chunks from shard * 2^48, as shard number shard of a PL/Proxy cluster';

REVOKE EXECUTE ON FUNCTION
    @extschema@.jc_create_job(text),
    @extschema@.jc_set_shard(integer)
FROM PUBLIC;
