--
-- The functions run as a role that is not a superuser (README, Privileges,
-- "An owner that is not a superuser"): the README's set-up gives the
-- extension's tables and functions to a role of their own, and leaves the
-- schema a superuser's.  Then code that runs as the owner (here a trigger
-- that records the role it runs as) runs without a superuser's privileges;
-- a worker granted only EXECUTE works as before; and the purges trust the
-- tables of that role, the one they run as, and refuse those of others, and
-- the role's triggers on a superuser's table (which a key's action changes
-- as the superuser).  Tables of that role behind a purge function that is
-- still a superuser's (as after an update that added functions, until the
-- set-up is run again) are refused: their triggers would run as the
-- superuser.
--
-- One transaction, rolled back at the end.
--
SET search_path = public;

SELECT public.fingerprint() AS start \gset

BEGIN;
DELETE FROM jobchunk.crawl_jobs;

-- The README's set-up, with the test's role name.
CREATE ROLE regress_jobchunk_owner NOLOGIN;
GRANT USAGE ON SCHEMA jobchunk TO regress_jobchunk_owner;
\set owner regress_jobchunk_owner
SELECT pg_catalog.format('ALTER %s %s OWNER TO %I',
                         CASE WHEN d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
                              THEN 'FUNCTION' ELSE 'TABLE' END,
                         CASE WHEN d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
                              THEN d.objid::pg_catalog.regprocedure::pg_catalog.text
                              ELSE d.objid::pg_catalog.regclass::pg_catalog.text END,
                         :'owner')
FROM pg_catalog.pg_depend AS d
JOIN pg_catalog.pg_extension AS e ON e.oid = d.refobjid
WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
  AND d.deptype = 'e' AND e.extname = 'jobchunk'
  AND (d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
       OR d.objid IN (SELECT c.oid FROM pg_catalog.pg_class AS c WHERE c.relkind = 'r'))
ORDER BY 1 \gexec

-- Everything of the extension is the role's now (the tables' identity
-- sequences followed their tables), but for the schema.
SELECT kind, owner = 'regress_jobchunk_owner'::regrole AS the_role,
       (SELECT r.rolsuper FROM pg_roles r WHERE r.oid = owner) AS superuser, count(*)
FROM (SELECT 'function' AS kind, p.proowner AS owner FROM pg_proc p
      WHERE p.pronamespace = 'jobchunk'::regnamespace
      UNION ALL
      SELECT c.relkind::text, c.relowner FROM pg_class c
      WHERE c.relnamespace = 'jobchunk'::regnamespace AND c.relkind IN ('r', 'S')
      UNION ALL
      SELECT 'schema', n.nspowner FROM pg_namespace n WHERE n.nspname = 'jobchunk') AS o
GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;

-- A trigger (a superuser's, on the extension's table) records the role the
-- functions run as, and whether it is a superuser.
CREATE TABLE public.ran_as (role name, superuser boolean);
GRANT INSERT ON public.ran_as TO PUBLIC;
CREATE FUNCTION public.record_role() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.ran_as
    SELECT current_user, r.rolsuper FROM pg_catalog.pg_roles AS r
    WHERE r.rolname = current_user;
    RETURN NULL;
END
$$;
CREATE TRIGGER record_role AFTER UPDATE ON jobchunk.job_chunks
    FOR EACH STATEMENT EXECUTE FUNCTION public.record_role();

-- A worker granted only what the README's least-privilege set-up grants it
-- claims and completes a chunk, through functions that run as the owner.
CREATE ROLE regress_jobchunk_worker NOLOGIN;
GRANT USAGE ON SCHEMA jobchunk TO regress_jobchunk_worker;
GRANT EXECUTE ON FUNCTION
    jobchunk.jc_next_pending(bigint, text, interval),
    jobchunk.jc_mark_completed(bigint, bigint)
    TO regress_jobchunk_worker;
INSERT INTO jobchunk.crawl_jobs (id, name) VALUES (970, 'owned'), (971, 'mixed');
SELECT count(*) AS chunks FROM jobchunk.jc_create_chunks(970, 1);
SELECT count(*) AS chunks FROM jobchunk.jc_create_chunks(971, 1);
SET LOCAL ROLE regress_jobchunk_worker;
SELECT count(*) AS completed
FROM jobchunk.jc_next_pending(970) AS c, jobchunk.jc_mark_completed(c.id, c.lease_token) AS d;
RESET ROLE;
SELECT DISTINCT role, superuser FROM public.ran_as;
DROP TRIGGER record_role ON jobchunk.job_chunks;

-- The owner's table, referencing crawl_jobs with an action on delete: the
-- purge changes its rows as the owner, whose privileges its triggers gain
-- nothing from, so the purge goes ahead.  Another role's is refused.
GRANT CREATE ON SCHEMA public TO regress_jobchunk_owner;
SET LOCAL ROLE regress_jobchunk_owner;
CREATE TABLE public.owner_notes (
    job_id bigint REFERENCES jobchunk.crawl_jobs (id) ON DELETE CASCADE);
INSERT INTO public.owner_notes VALUES (970), (971);
RESET ROLE;
CREATE ROLE regress_jobchunk_app NOLOGIN;
GRANT USAGE ON SCHEMA jobchunk TO regress_jobchunk_app;
GRANT REFERENCES (id) ON jobchunk.crawl_jobs TO regress_jobchunk_app;
GRANT CREATE ON SCHEMA public TO regress_jobchunk_app;
SET LOCAL ROLE regress_jobchunk_app;
CREATE TABLE public.app_notes (
    job_id bigint REFERENCES jobchunk.crawl_jobs (id) ON DELETE CASCADE);
RESET ROLE;
SELECT outcome('SELECT jobchunk.jc_purge_job(970)');
DROP TABLE public.app_notes;
SELECT outcome('SELECT jobchunk.jc_purge_job(970)');
SELECT count(*) AS notes_left FROM public.owner_notes;

-- A superuser's table the purge would change: the key's action, and the
-- BEFORE triggers it fires, run as the superuser, so the role may neither
-- create triggers on it nor own the function of one of its triggers.
SELECT count(*) AS completed
FROM jobchunk.jc_next_pending(971) AS c, jobchunk.jc_mark_completed(c.id, c.lease_token) AS d;
CREATE TABLE public.admin_notes (
    job_id bigint REFERENCES jobchunk.crawl_jobs (id) ON DELETE CASCADE);
GRANT TRIGGER ON public.admin_notes TO regress_jobchunk_owner;
SELECT outcome('SELECT jobchunk.jc_purge_job(971)');
REVOKE TRIGGER ON public.admin_notes FROM regress_jobchunk_owner;
SET LOCAL ROLE regress_jobchunk_owner;
CREATE FUNCTION public.owner_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RETURN OLD;
END
$$;
RESET ROLE;
CREATE TRIGGER owner_trigger BEFORE DELETE ON public.admin_notes
    FOR EACH ROW EXECUTE FUNCTION public.owner_trigger();
SELECT outcome('SELECT jobchunk.jc_purge_job(971)');
DROP TABLE public.admin_notes;
-- The same through a partition of the role's, of a superuser's partitioned
-- table: the key's action, defined on the partitioned table, runs as its
-- owner, and so do the partition's BEFORE triggers.
CREATE TABLE public.admin_parts (
    job_id bigint REFERENCES jobchunk.crawl_jobs (id) ON DELETE CASCADE,
    k integer) PARTITION BY LIST (k);
CREATE TABLE public.admin_parts_1 PARTITION OF public.admin_parts FOR VALUES IN (1);
ALTER TABLE public.admin_parts_1 OWNER TO regress_jobchunk_owner;
SELECT outcome('SELECT jobchunk.jc_purge_job(971)');
CREATE TRIGGER owner_trigger BEFORE DELETE ON public.admin_parts_1
    FOR EACH ROW EXECUTE FUNCTION public.owner_trigger();
ALTER TABLE public.admin_parts_1 OWNER TO CURRENT_USER;
SELECT outcome('SELECT jobchunk.jc_purge_job(971)');
DROP TABLE public.admin_parts;

-- A purge function a superuser owns, with the tables the role's: the
-- role's triggers on crawl_jobs would run as the superuser.  Refused.
ALTER FUNCTION jobchunk.jc_purge_job(bigint) OWNER TO CURRENT_USER;
SELECT outcome('SELECT jobchunk.jc_purge_job(971)');
SELECT count(*) AS jobs_left FROM jobchunk.crawl_jobs WHERE id = 971;

ROLLBACK;

SELECT count(*) AS roles_left FROM pg_roles WHERE rolname LIKE 'regress\_jobchunk\_%';
SELECT count(*) AS not_the_superusers
FROM (SELECT p.proowner AS owner FROM pg_proc p
      WHERE p.pronamespace = 'jobchunk'::regnamespace
      UNION ALL
      SELECT c.relowner FROM pg_class c
      WHERE c.relnamespace = 'jobchunk'::regnamespace) AS o
WHERE NOT (SELECT r.rolsuper FROM pg_roles r WHERE r.oid = o.owner);
SELECT public.fingerprint() = :'start' AS tables_as_before;
