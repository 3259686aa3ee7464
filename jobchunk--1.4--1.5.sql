/* jobchunk--1.4--1.5.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION jobchunk UPDATE TO '1.5'" to load this file. \quit

--
-- The rules of a chunk row in one check constraint, a C function, instead
-- of six SQL expressions.  PostgreSQL reads every CHECK expression back from
-- its stored form and plans it for each statement that writes the table, and
-- jobchunk runs one statement per call: the six cost about a sixth of a
-- claim's and a completion's server time, one function call a small part of
-- that (src/chunk_check.c).  The rules are the same, so every row passes;
-- adding the constraint reads the table once to check.
--
CREATE FUNCTION @extschema@.jc_chunk_is_valid(status text,
    lease_expires_at timestamptz, chunk_index integer, priority integer,
    retry_count integer, lease_token bigint)
RETURNS boolean
AS 'MODULE_PATHNAME', 'jc_chunk_is_valid'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- Every role that writes job_chunks runs it, so anyone may; granted
-- explicitly, so that default privileges revoking EXECUTE from PUBLIC do not
-- apply.
GRANT EXECUTE ON FUNCTION
    @extschema@.jc_chunk_is_valid(text, timestamptz, integer, integer, integer, bigint)
TO PUBLIC;

COMMENT ON FUNCTION @extschema@.jc_chunk_is_valid(text, timestamptz, integer, integer, integer, bigint) IS
    'the check constraint of job_chunks: status is pending, processing, completed or failed; '
    'a lease exactly while processing; chunk_index, retry_count and lease_token not negative; '
    'priority from 0 to 10';

ALTER TABLE @extschema@.job_chunks
    DROP CONSTRAINT job_chunks_chunk_index_check,
    DROP CONSTRAINT job_chunks_status_check,
    DROP CONSTRAINT job_chunks_priority_check,
    DROP CONSTRAINT job_chunks_retry_count_check,
    DROP CONSTRAINT job_chunks_lease_token_check,
    DROP CONSTRAINT job_chunks_lease_check,
    ADD CONSTRAINT job_chunks_valid
        CHECK (@extschema@.jc_chunk_is_valid(status, lease_expires_at, chunk_index,
                                             priority, retry_count, lease_token));
