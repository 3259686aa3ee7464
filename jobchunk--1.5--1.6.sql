/* jobchunk--1.5--1.6.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION jobchunk UPDATE TO '1.6'" to load this file. \quit

--
-- Expired leases are found by their expiry alone, whatever their job: every
-- claim that takes back leases takes back those of any job, and so does
-- jc_purge_jobs() (jc_purge_job() those of its job).  Keyed by (job_id, lease_expires_at), the index made a claim
-- across all jobs read every chunk in flight to find the expired ones.
-- Only processing chunks are in it, so building it reads the table once and
-- writes a small index.
--
DROP INDEX @extschema@.job_chunks_lease_idx;
CREATE INDEX job_chunks_lease_idx
    ON @extschema@.job_chunks (lease_expires_at)
    WHERE status OPERATOR(pg_catalog.=) 'processing';
