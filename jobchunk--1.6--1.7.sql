/* jobchunk--1.6--1.7.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION jobchunk UPDATE TO '1.7'" to load this file. \quit

--
-- The claims keep to the index of a job's pending chunks.  A claim of one
-- job orders them by (priority DESC, created_at, chunk_index), an order
-- only job_chunks_job_claim_idx provides; but with incremental sort the
-- planner may scan job_chunks_claim_idx, (priority DESC, job_id,
-- created_at, id), and sort each run of equal priority and created_at by
-- chunk_index.  A job's chunks share both, so every claim read and sorted
-- all the job's pending chunks: a reviewer's jobs of 50,000 chunks, whose
-- priorities followed the table's physical order, took 22 ms a claim, and
-- 29 ms a claim across jobs, instead of 0.2 and 0.5.  A session keeps its
-- plans, made in its first claims and again after an ANALYZE, so the
-- setting is fixed for the two functions that run the claims.
--
ALTER FUNCTION @extschema@.jc_next_pending(bigint, text, interval)
    SET enable_incremental_sort = off;
ALTER FUNCTION @extschema@.jc_claim(bigint, integer, text, interval)
    SET enable_incremental_sort = off;
