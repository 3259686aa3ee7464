--
-- The parameters: jobchunk.chunk_size, max_retries, lease_timeout,
-- rescan_interval, synchronous_claims and notify
--

-- The parameters exist once the library is loaded: by the first call of a
-- jobchunk function in the session, or as here by LOAD.  Before that a SET
-- only records a placeholder, checked when the library loads.
LOAD 'jobchunk';
SELECT name, setting, unit, boot_val, min_val, max_val, context, vartype
FROM pg_settings WHERE name LIKE 'jobchunk.%' ORDER BY name;

-- Out-of-range values are refused.
SELECT outcome('SET jobchunk.chunk_size = 0');
SELECT outcome('SET jobchunk.chunk_size = -1');
SELECT outcome('SET jobchunk.max_retries = -1');
SELECT outcome('SET jobchunk.chunk_size = ''many''');
-- (PostgreSQL 17 gives the bounds with their unit, 1 s .. 2147483647 s:
-- taken out, so that one expected output serves every version)
SELECT regexp_replace(outcome('SET jobchunk.lease_timeout = 0'), '(\d) m?s( \.\.|\)$)', '\1\2', 'g') AS outcome;
SELECT regexp_replace(outcome('SET jobchunk.rescan_interval = -1'), '(\d) m?s( \.\.|\)$)', '\1\2', 'g') AS outcome;
SELECT outcome('SET jobchunk.synchronous_claims = ''sometimes''');
SELECT outcome('SET jobchunk.notify = ''sometimes''');

-- The rescan interval takes a unit too, and 0.
SET jobchunk.rescan_interval = '5s';
SHOW jobchunk.rescan_interval;
SET jobchunk.rescan_interval = 0;
SHOW jobchunk.rescan_interval;
RESET jobchunk.rescan_interval;

-- The lease timeout takes a unit.
SET jobchunk.lease_timeout = '90s';
SHOW jobchunk.lease_timeout;
SET jobchunk.lease_timeout = '2h';
SHOW jobchunk.lease_timeout;
RESET jobchunk.lease_timeout;

-- The prefix is reserved: a misspelt parameter is an error, not a silent
-- placeholder.
SELECT outcome('SET jobchunk.chunksize = 10');

-- Per transaction, per role and per database.
BEGIN;
SET LOCAL jobchunk.chunk_size = 250;
SHOW jobchunk.chunk_size;
COMMIT;
SHOW jobchunk.chunk_size;

CREATE ROLE regress_jobchunk_guc_role;
ALTER ROLE regress_jobchunk_guc_role SET jobchunk.chunk_size = 100;
SELECT unnest(setconfig) FROM pg_db_role_setting
WHERE setrole = 'regress_jobchunk_guc_role'::regrole;
DROP ROLE regress_jobchunk_guc_role;

SELECT current_database() AS db \gset
ALTER DATABASE :"db" SET jobchunk.chunk_size = 1000;
\c -
SHOW jobchunk.chunk_size;
INSERT INTO jobchunk.crawl_jobs (id, name) VALUES (50, 'database default');
SELECT chunk_index, image_range FROM jobchunk.jc_create_chunks(50, 2500);
ALTER DATABASE :"db" RESET jobchunk.chunk_size;
\c -
LOAD 'jobchunk';
SHOW jobchunk.chunk_size;
