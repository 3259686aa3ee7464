/* jobchunk_proxy--1.7--1.6.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION jobchunk_proxy UPDATE TO '1.6'" to load this file. \quit

-- Back to 1.6: jc_jobs goes; the other calls are 1.6's.
DROP FUNCTION @extschema@.jc_jobs();
