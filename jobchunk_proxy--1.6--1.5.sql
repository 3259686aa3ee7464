/* jobchunk_proxy--1.6--1.5.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION jobchunk_proxy UPDATE TO '1.5'" to load this file. \quit

-- Back to 1.5: jc_job and the check of the partitions go; the other calls
-- are 1.5's.
DROP FUNCTION @extschema@.jc_job(bigint);
DROP FUNCTION @extschema@.jc_check_shards();
DROP FUNCTION @extschema@.jc_shard_on(integer);
