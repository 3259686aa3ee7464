--
-- DROP EXTENSION removes all its objects; a new CREATE EXTENSION in the same
-- session works at once (the kept plans are made again).
--
SELECT count(*) AS claimed FROM jobchunk.jc_next_pending();
SELECT total > 0 AS has_chunks FROM jobchunk.jc_statistics(90);

DROP EXTENSION jobchunk;
SELECT count(*) AS left_over FROM pg_class WHERE relname IN ('job_chunks', 'crawl_jobs');
SELECT count(*) AS left_over FROM pg_proc WHERE proname LIKE 'jc\_%';
-- The schema CREATE EXTENSION made stays, empty, as for any extension
-- installed into a named schema.
SELECT count(*) AS objects_left FROM pg_class WHERE relnamespace = 'jobchunk'::regnamespace;

-- Created again at an older version, in the schema that stayed: the kept
-- plans are not run against the older tables; the library refuses, as it
-- would in a new session.
CREATE EXTENSION jobchunk VERSION '1.5';
SELECT count(*) AS claimed FROM jobchunk.jc_next_pending();
DROP EXTENSION jobchunk;

CREATE EXTENSION jobchunk;
INSERT INTO jobchunk.crawl_jobs (name) VALUES ('again') RETURNING id;
SELECT chunk_index, status FROM jobchunk.jc_create_chunks(1, 600);
SELECT chunk_index, status FROM jobchunk.jc_next_pending(1);
SELECT total, pending, processing FROM jobchunk.jc_statistics(1);

-- An update by a newer library that changes no function (as 1.4 -> 1.5 and
-- 1.5 -> 1.6 did not), made while this session has its plans: the session's
-- library is now the older one, and its calls are refused, with a hint to
-- reconnect.  The update is played by changing the version pg_extension
-- records; its invalidation comes back to this session once committed, as
-- another session's would.  (jc_statistics has its statements made, just
-- above.)
UPDATE pg_extension SET extversion = '1.12' WHERE extname = 'jobchunk';
SELECT total FROM jobchunk.jc_statistics(1);
UPDATE pg_extension SET extversion = '1.11' WHERE extname = 'jobchunk';
SELECT total FROM jobchunk.jc_statistics(1);
DROP EXTENSION jobchunk;

-- A schema jobchunk that is not safe for the extension's SECURITY DEFINER
-- functions is refused (42501), and nothing is made: one that a role that
-- is not a superuser owns, one in which another role may create objects
-- (either could put an overload of a jc_ function there, to be called in
-- its place with its caller's privileges), and one that holds such an
-- object already (made while another role owned it).
CREATE ROLE regress_jobchunk_squatter NOLOGIN;
ALTER SCHEMA jobchunk OWNER TO regress_jobchunk_squatter;
CREATE EXTENSION jobchunk;
\echo :SQLSTATE
ALTER SCHEMA jobchunk OWNER TO CURRENT_USER;
GRANT CREATE ON SCHEMA jobchunk TO regress_jobchunk_squatter;
CREATE EXTENSION jobchunk;
\echo :SQLSTATE
SELECT count(*) AS left_over FROM pg_class WHERE relnamespace = 'jobchunk'::regnamespace;
REVOKE CREATE ON SCHEMA jobchunk FROM regress_jobchunk_squatter;
CREATE FUNCTION jobchunk.jc_purge_job(job_id integer) RETURNS bigint
    LANGUAGE sql AS 'SELECT 0::bigint';
ALTER FUNCTION jobchunk.jc_purge_job(integer) OWNER TO regress_jobchunk_squatter;
CREATE EXTENSION jobchunk;
\echo :SQLSTATE
DROP FUNCTION jobchunk.jc_purge_job(integer);
-- Nor is the extension made while default privileges of the role making it
-- would grant TRIGGER on its tables to another role.
ALTER DEFAULT PRIVILEGES GRANT ALL ON TABLES TO regress_jobchunk_squatter;
CREATE EXTENSION jobchunk;
\echo :SQLSTATE
ALTER DEFAULT PRIVILEGES REVOKE ALL ON TABLES FROM regress_jobchunk_squatter;
DROP ROLE regress_jobchunk_squatter;
CREATE EXTENSION jobchunk;
SELECT count(*) AS tables FROM pg_class WHERE relnamespace = 'jobchunk'::regnamespace AND relkind = 'r';

-- A purge with a table of the extension renamed is refused (42P01): it
-- cannot tell what its foreign keys' actions would reach.
ALTER TABLE jobchunk.job_counts RENAME TO job_counts_renamed;
SELECT * FROM jobchunk.jc_purge_jobs('1 day');
\echo :SQLSTATE
ALTER TABLE jobchunk.job_counts_renamed RENAME TO job_counts;
SELECT * FROM jobchunk.jc_purge_jobs('1 day');
DROP EXTENSION jobchunk;
