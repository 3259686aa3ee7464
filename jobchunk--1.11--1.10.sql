/* jobchunk--1.11--1.10.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION jobchunk UPDATE TO '1.10'" to load this file. \quit

--
-- Back to 1.10, before the 1.10 library is installed again: the 1.11
-- library runs 1.10's definitions too, so calls work before and after.
--
DROP FUNCTION @extschema@.jc_jobs();
