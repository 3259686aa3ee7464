/* jobchunk--1.10--1.9.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION jobchunk UPDATE TO '1.9'" to load this file. \quit

--
-- Back to 1.9, before the 1.9 library is installed again: the 1.10 library
-- runs 1.9's definitions too, so calls work before and after.
--
DROP FUNCTION @extschema@.jc_job(bigint);
DROP FUNCTION @extschema@.jc_shard();
