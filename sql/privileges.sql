--
-- Least privilege.  The functions are SECURITY DEFINER, and no one may call
-- them until granted: a role needs USAGE on the schema and EXECUTE on the
-- functions it calls, and no privilege on the tables.  Three roles, each
-- granted only that: workers, producers and readers (producers also insert
-- jobs).  The test shows that each role can do its job, that every single
-- grant is needed, that a role cannot call what it was not granted nor write
-- the tables around the functions, and that a role without grants gets
-- 42501 and changes nothing.
--
-- Names are printed schema-qualified: jobchunk is not on the search_path.
SET search_path = public;

SELECT public.fingerprint() AS start \gset

-- The whole test is one transaction, rolled back at the end: the roles, the
-- grants and the rows go with it.  The jobs the earlier tests left are set
-- aside within it, to keep the fingerprints small.
BEGIN;
DELETE FROM jobchunk.crawl_jobs;

--
-- The set-up.  (CREATE EXTENSION already revoked EXECUTE from PUBLIC.)
--
CREATE ROLE regress_jobchunk_worker NOLOGIN;
CREATE ROLE regress_jobchunk_producer NOLOGIN;
CREATE ROLE regress_jobchunk_reader NOLOGIN;
GRANT USAGE ON SCHEMA jobchunk TO regress_jobchunk_worker, regress_jobchunk_producer, regress_jobchunk_reader;

-- Workers claim chunks (taking back expired leases on the way), keep their
-- lease, complete or fail them, and give back those they will not work on.
GRANT EXECUTE ON FUNCTION
    jobchunk.jc_next_pending(bigint, text, interval),
    jobchunk.jc_claim(bigint, integer, text, interval),
    jobchunk.jc_mark_processing(bigint, text, interval),
    jobchunk.jc_heartbeat(bigint, bigint, interval),
    jobchunk.jc_heartbeat_batch(bigint[], bigint[], interval),
    jobchunk.jc_mark_completed(bigint, bigint),
    jobchunk.jc_mark_completed(bigint[], bigint[]),
    jobchunk.jc_mark_failed(bigint, text, bigint),
    jobchunk.jc_release(bigint[], bigint[])
    TO regress_jobchunk_worker;

-- Producers create jobs and their chunks, retry failed chunks, and pause,
-- resume, cancel and purge jobs.  They create jobs with jc_create_job(), or
-- as rows they insert: INSERT (name) on crawl_jobs, and SELECT (id) to read
-- the new id back.
GRANT EXECUTE ON FUNCTION
    jobchunk.jc_create_job(text),
    jobchunk.jc_create_chunks(bigint, bigint, integer),
    jobchunk.jc_retry(bigint),
    jobchunk.jc_pause_job(bigint),
    jobchunk.jc_resume_job(bigint),
    jobchunk.jc_cancel_job(bigint),
    jobchunk.jc_purge_job(bigint),
    jobchunk.jc_purge_jobs(interval)
    TO regress_jobchunk_producer;
GRANT SELECT (id), INSERT (name) ON jobchunk.crawl_jobs TO regress_jobchunk_producer;

-- Readers list jobs and chunks, watch progress and read a job's state.
GRANT EXECUTE ON FUNCTION
    jobchunk.jc_job(bigint),
    jobchunk.jc_jobs(),
    jobchunk.jc_chunks(bigint, text),
    jobchunk.jc_chunk(bigint),
    jobchunk.jc_statistics(bigint),
    jobchunk.jc_progress(bigint),
    jobchunk.jc_is_complete(bigint)
    TO regress_jobchunk_reader;

--
-- Each role does its job.
--
SET ROLE regress_jobchunk_producer;
INSERT INTO jobchunk.crawl_jobs (name) VALUES ('catalogue') RETURNING id AS job \gset
SELECT chunk_index, status, priority, image_range
FROM jobchunk.jc_create_chunks(:job, 1500, 7);
RESET ROLE;

SET ROLE regress_jobchunk_worker;
SELECT id AS chunk, lease_token AS token
FROM jobchunk.jc_next_pending(:job, 'worker-1', interval '1 minute') \gset
SELECT jobchunk.jc_heartbeat(:chunk, :token) > now() AS extended;
SELECT status FROM jobchunk.jc_mark_completed(:chunk, :token);
SELECT id AS chunk, lease_token AS token FROM jobchunk.jc_next_pending(:job, 'worker-1') \gset
SELECT status, error_message FROM jobchunk.jc_mark_failed(:chunk, 'Timeout', :token);
SELECT chunk_index, status, task_id FROM jobchunk.jc_claim(:job, 5, 'worker-2');
RESET ROLE;

SET ROLE regress_jobchunk_producer;
SELECT status, retry_count FROM jobchunk.jc_retry(:chunk);
SELECT jobchunk.jc_pause_job(:job);
SELECT jobchunk.jc_resume_job(:job);
RESET ROLE;

SET ROLE regress_jobchunk_reader;
SELECT chunk_index, status FROM jobchunk.jc_chunks(:job);
SELECT chunk_index, retry_count, error_message FROM jobchunk.jc_chunk(:chunk);
SELECT total, pending, processing, completed, failed, completion_percentage
FROM jobchunk.jc_statistics(:job);
SELECT is_complete FROM jobchunk.jc_progress(:job);
SELECT jobchunk.jc_is_complete(:job);
RESET ROLE;

SET ROLE regress_jobchunk_producer;
SELECT jobchunk.jc_cancel_job(:job);
RESET ROLE;

-- jobchunk.max_retries is a superuser's setting: a claim applies it to the
-- expired leases it takes back, of any job, so a worker may not make other
-- workers' chunks fail at once, nor retry them for ever.
SET ROLE regress_jobchunk_worker;
SELECT public.outcome('SET jobchunk.max_retries = 0');
SHOW jobchunk.max_retries;
RESET ROLE;

--
-- Every grant is needed: each role's calls, run once with all its grants
-- and then once with each single grant revoked, stop at 42501.
--
-- The fixture: job 950 with an expired lease {E}, a failed chunk {F}, a
-- chunk {T} processing under lease token 2, and pending ones; job 951 paused
-- with a pending chunk {Q}; job 952 without chunks; job 953 to cancel.
INSERT INTO jobchunk.crawl_jobs (id, name) VALUES
    (950, 'work'), (951, 'paused'), (952, 'to split'), (953, 'to cancel');
SET jobchunk.chunk_size = 1;
SELECT count(*) FROM jobchunk.jc_create_chunks(950, 10, 5);
SELECT count(*) FROM jobchunk.jc_create_chunks(951, 2, 5);
SELECT count(*) FROM jobchunk.jc_create_chunks(953, 3, 5);
RESET jobchunk.chunk_size;
CREATE TEMP TABLE chunk (name text PRIMARY KEY, id bigint NOT NULL);
INSERT INTO chunk
SELECT name, (SELECT id FROM jobchunk.job_chunks WHERE job_id = j AND chunk_index = i)
FROM (VALUES ('E', 950, 0), ('F', 950, 1), ('T', 950, 2), ('Q', 951, 0)) AS t(name, j, i);
DO $$
DECLARE
    t bigint := (SELECT id FROM chunk WHERE name = 'T');
BEGIN
    PERFORM jobchunk.jc_mark_processing((SELECT id FROM chunk WHERE name = 'E'), 'gone');
    PERFORM jobchunk.jc_mark_processing((SELECT id FROM chunk WHERE name = 'F'));
    PERFORM jobchunk.jc_mark_failed((SELECT id FROM chunk WHERE name = 'F'), 'Timeout');
    PERFORM jobchunk.jc_mark_processing(t);
    PERFORM jobchunk.jc_mark_failed(t, 'lost');
    PERFORM jobchunk.jc_retry(t);
    PERFORM jobchunk.jc_mark_processing(t);
    PERFORM jobchunk.jc_pause_job(951);
END
$$;
UPDATE jobchunk.job_chunks SET lease_expires_at = now() - interval '1 second'
WHERE id = (SELECT id FROM chunk WHERE name = 'E');
-- Claims take their lease tokens from the clock; the fixture's are set to
-- small numbers, so that the calls can name them.
UPDATE jobchunk.job_chunks AS c SET lease_token = t.token
FROM chunk AS k JOIN (VALUES ('E', 1), ('F', 1), ('T', 2)) AS t(name, token) USING (name)
WHERE c.id = k.id;
SELECT k.name, c.job_id, c.chunk_index, c.status, c.lease_token,
       c.lease_expires_at < now() AS expired
FROM chunk k JOIN jobchunk.job_chunks c USING (id) ORDER BY k.name;

-- Each role's calls, in order, with the outcome each must have.
CREATE TEMP TABLE calls (
    role name NOT NULL,
    step int NOT NULL,
    sql text NOT NULL,
    expect text NOT NULL,
    PRIMARY KEY (role, step)
);
INSERT INTO calls VALUES
    ('regress_jobchunk_worker', 1, 'SELECT count(*) FROM jobchunk.jc_claim(950, 2, ''w1'', interval ''1 minute'')', 'ok'),
    ('regress_jobchunk_worker', 2, 'SELECT jobchunk.jc_heartbeat(id, lease_token) FROM jobchunk.jc_next_pending(950, ''w2'')', 'ok'),
    ('regress_jobchunk_worker', 3, 'SELECT jobchunk.jc_mark_completed(id, lease_token) FROM jobchunk.jc_next_pending(950, ''w3'')', 'ok'),
    ('regress_jobchunk_worker', 4, 'SELECT jobchunk.jc_mark_failed(id, ''Timeout'', lease_token) FROM jobchunk.jc_next_pending(950)', 'ok'),
    ('regress_jobchunk_worker', 5, 'SELECT count(*) FROM jobchunk.jc_mark_completed(ARRAY(SELECT id FROM jobchunk.jc_claim(950, 2)))', 'ok'),
    ('regress_jobchunk_worker', 6, 'SELECT jobchunk.jc_mark_processing({Q}, ''w5'')', 'ok'),
    ('regress_jobchunk_worker', 7, 'SELECT jobchunk.jc_mark_completed({T}, 1)', '55000'),
    ('regress_jobchunk_worker', 8, 'SELECT jobchunk.jc_heartbeat({T}, 2, interval ''1 hour'')', 'ok'),
    ('regress_jobchunk_worker', 9, 'SELECT count(*) FROM jobchunk.jc_heartbeat_batch(ARRAY[{T}], ARRAY[2])', 'ok'),
    ('regress_jobchunk_worker', 10, 'SELECT count(*) FROM jobchunk.jc_claim(950, 1) AS c, jobchunk.jc_release(ARRAY[c.id], ARRAY[c.lease_token])', 'ok'),
    ('regress_jobchunk_producer', 1, 'INSERT INTO jobchunk.crawl_jobs (name) VALUES (''from a producer'') RETURNING id', 'ok'),
    ('regress_jobchunk_producer', 2, 'SELECT count(*) FROM jobchunk.jc_create_chunks(952, 1200, 7)', 'ok'),
    ('regress_jobchunk_producer', 3, 'SELECT jobchunk.jc_create_chunks(950, 1200)', '55000'),
    ('regress_jobchunk_producer', 4, 'SELECT jobchunk.jc_pause_job(952)', 'ok'),
    ('regress_jobchunk_producer', 5, 'SELECT jobchunk.jc_resume_job(952)', 'ok'),
    ('regress_jobchunk_producer', 6, 'SELECT jobchunk.jc_retry({F})', 'ok'),
    ('regress_jobchunk_producer', 7, 'SELECT jobchunk.jc_cancel_job(953)', 'ok'),
    ('regress_jobchunk_producer', 8, 'SELECT jobchunk.jc_purge_job(953)', 'ok'),
    ('regress_jobchunk_producer', 9, 'SELECT count(*) FROM jobchunk.jc_purge_jobs(''1 day'')', 'ok'),
    ('regress_jobchunk_producer', 10, 'SELECT jobchunk.jc_create_job(''by a call'')', 'ok'),
    ('regress_jobchunk_reader', 1, 'SELECT count(*) FROM jobchunk.jc_chunks(950)', 'ok'),
    ('regress_jobchunk_reader', 2, 'SELECT count(*) FROM jobchunk.jc_chunks(950, ''failed'')', 'ok'),
    ('regress_jobchunk_reader', 3, 'SELECT jobchunk.jc_chunk({F})', 'ok'),
    ('regress_jobchunk_reader', 4, 'SELECT jobchunk.jc_statistics(950)', 'ok'),
    ('regress_jobchunk_reader', 5, 'SELECT jobchunk.jc_progress(950)', 'ok'),
    ('regress_jobchunk_reader', 6, 'SELECT jobchunk.jc_is_complete(950)', 'ok'),
    ('regress_jobchunk_reader', 7, 'SELECT jobchunk.jc_chunks(999)', 'P0002'),
    ('regress_jobchunk_reader', 8, 'SELECT state FROM jobchunk.jc_job(950)', 'ok'),
    ('regress_jobchunk_reader', 9, 'SELECT count(*) FROM jobchunk.jc_jobs() WHERE id = 950', 'ok');

-- What each role holds, read back from the catalogs.
CREATE TEMP TABLE granted AS
SELECT r.rolname AS role, a.privilege_type || ' ON SCHEMA ' || n.nspname AS privilege
FROM pg_namespace n CROSS JOIN LATERAL aclexplode(n.nspacl) a
JOIN pg_roles r ON r.oid = a.grantee
WHERE n.nspname = 'jobchunk'
UNION ALL
SELECT r.rolname, a.privilege_type || ' ON TABLE ' || c.oid::regclass
FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a
JOIN pg_roles r ON r.oid = a.grantee
WHERE c.relnamespace = 'jobchunk'::regnamespace
UNION ALL
SELECT r.rolname, a.privilege_type || ' (' || quote_ident(t.attname) || ') ON TABLE '
                  || t.attrelid::regclass
FROM pg_attribute t CROSS JOIN LATERAL aclexplode(t.attacl) a
JOIN pg_roles r ON r.oid = a.grantee
WHERE t.attrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'jobchunk'::regnamespace)
UNION ALL
SELECT r.rolname, a.privilege_type || ' ON FUNCTION ' || p.oid::regprocedure
FROM pg_proc p CROSS JOIN LATERAL aclexplode(p.proacl) a
JOIN pg_roles r ON r.oid = a.grantee
WHERE p.pronamespace = 'jobchunk'::regnamespace;
DELETE FROM granted WHERE role NOT IN ('regress_jobchunk_worker', 'regress_jobchunk_producer', 'regress_jobchunk_reader');

-- Run the role's calls with the privilege revoked (none: all granted), and
-- tell the first one that did not end as expected; then undo it all.
CREATE FUNCTION pg_temp.try_role(role name, revoked text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    c record;
    k record;
    call text;
    result text;
    got text;
    failure text := 'ok';
BEGIN
    BEGIN
        IF revoked IS NOT NULL THEN
            EXECUTE format('REVOKE %s FROM %I', revoked, role);
        END IF;
        FOR c IN SELECT * FROM pg_temp.calls WHERE calls.role = try_role.role ORDER BY step LOOP
            call := c.sql;
            FOR k IN SELECT * FROM pg_temp.chunk LOOP
                call := replace(call, '{' || k.name || '}', k.id::text);
            END LOOP;
            EXECUTE format('SET LOCAL ROLE %I', role);
            result := public.outcome(call);
            RESET ROLE;
            got := CASE WHEN result = 'ok' THEN 'ok' ELSE left(result, 5) END;
            IF got <> c.expect THEN
                failure := 'step ' || c.step || ': ' || result;
                EXIT;
            END IF;
        END LOOP;
        RAISE SQLSTATE 'JCUND';
    EXCEPTION WHEN SQLSTATE 'JCUND' THEN
        NULL;
    END;
    RETURN failure;
END
$$;

SELECT role, pg_temp.try_role(role, NULL) AS with_all_grants
FROM (VALUES ('regress_jobchunk_worker'), ('regress_jobchunk_producer'), ('regress_jobchunk_reader')) AS r(role);

SELECT role, privilege, pg_temp.try_role(role, privilege) AS without_it
FROM granted
ORDER BY role COLLATE "C", privilege COLLATE "C";
SELECT count(*) AS grants,
       count(*) FILTER (WHERE pg_temp.try_role(role, privilege) LIKE 'step %: 42501: %') AS needed
FROM granted;

--
-- A role cannot call what it was not granted, nor read or write the tables
-- around the functions; a role with no grants at all can do nothing.  None
-- of these changes anything.
--
CREATE ROLE regress_jobchunk_outsider NOLOGIN;
CREATE TEMP TABLE refused (n serial, role name, sql text);
INSERT INTO refused (role, sql) VALUES
    ('regress_jobchunk_worker', 'SELECT jobchunk.jc_create_job()'),
    ('regress_jobchunk_worker', 'SELECT jobchunk.jc_create_chunks(952, 100)'),
    ('regress_jobchunk_worker', 'SELECT jobchunk.jc_retry({F})'),
    ('regress_jobchunk_worker', 'SELECT jobchunk.jc_cancel_job(950)'),
    ('regress_jobchunk_worker', 'SELECT jobchunk.jc_purge_job(952)'),
    ('regress_jobchunk_worker', 'SELECT jobchunk.jc_purge_jobs(''0'')'),
    ('regress_jobchunk_worker', 'SELECT jobchunk.jc_statistics(950)'),
    ('regress_jobchunk_worker', 'SELECT jobchunk.jc_chunks(950)'),
    ('regress_jobchunk_worker', 'UPDATE jobchunk.job_chunks SET priority = 10'),
    ('regress_jobchunk_worker', 'UPDATE jobchunk.job_chunks SET job_id = 951'),
    ('regress_jobchunk_worker', 'DELETE FROM jobchunk.job_chunks'),
    ('regress_jobchunk_worker', 'INSERT INTO jobchunk.crawl_jobs (name) VALUES (''x'')'),
    ('regress_jobchunk_worker', 'UPDATE jobchunk.crawl_jobs SET state = ''cancelled'''),
    ('regress_jobchunk_worker', 'SELECT name FROM jobchunk.crawl_jobs'),
    ('regress_jobchunk_worker', 'DELETE FROM jobchunk.job_counts'),
    ('regress_jobchunk_producer', 'SELECT jobchunk.jc_next_pending(950)'),
    ('regress_jobchunk_producer', 'SELECT jobchunk.jc_mark_completed({T})'),
    ('regress_jobchunk_producer', 'SELECT jobchunk.jc_heartbeat({T}, 2)'),
    ('regress_jobchunk_producer', 'SELECT jobchunk.jc_heartbeat_batch(ARRAY[{T}], ARRAY[2])'),
    ('regress_jobchunk_producer', 'SELECT jobchunk.jc_release(ARRAY[{T}], ARRAY[2])'),
    ('regress_jobchunk_producer', 'SELECT jobchunk.jc_statistics(950)'),
    ('regress_jobchunk_producer', 'SELECT jobchunk.jc_set_shard(1)'),
    ('regress_jobchunk_producer', 'DELETE FROM jobchunk.crawl_jobs'),
    ('regress_jobchunk_producer', 'UPDATE jobchunk.job_chunks SET image_range = ''{}'''),
    ('regress_jobchunk_reader', 'SELECT jobchunk.jc_next_pending(950)'),
    ('regress_jobchunk_reader', 'SELECT jobchunk.jc_retry({F})'),
    ('regress_jobchunk_reader', 'SELECT jobchunk.jc_pause_job(950)'),
    ('regress_jobchunk_reader', 'SELECT jobchunk.jc_purge_job(952)'),
    ('regress_jobchunk_reader', 'SELECT jobchunk.jc_purge_jobs(''0'')'),
    ('regress_jobchunk_reader', 'UPDATE jobchunk.job_chunks SET status = ''completed'''),
    ('regress_jobchunk_reader', 'SELECT name FROM jobchunk.crawl_jobs'),
    ('regress_jobchunk_outsider', 'SELECT jobchunk.jc_create_job()'),
    ('regress_jobchunk_outsider', 'SELECT jobchunk.jc_set_shard(1)'),
    ('regress_jobchunk_outsider', 'SELECT jobchunk.jc_create_chunks(952, 100)'),
    ('regress_jobchunk_outsider', 'SELECT jobchunk.jc_mark_processing({Q})'),
    ('regress_jobchunk_outsider', 'SELECT jobchunk.jc_mark_completed({T})'),
    ('regress_jobchunk_outsider', 'SELECT jobchunk.jc_mark_completed(ARRAY[{T}]::bigint[])'),
    ('regress_jobchunk_outsider', 'SELECT jobchunk.jc_mark_failed({T}, ''x'')'),
    ('regress_jobchunk_outsider', 'SELECT jobchunk.jc_retry({F})'),
    ('regress_jobchunk_outsider', 'SELECT jobchunk.jc_chunks(950)'),
    ('regress_jobchunk_outsider', 'SELECT jobchunk.jc_next_pending(950)'),
    ('regress_jobchunk_outsider', 'SELECT jobchunk.jc_claim(950, 2)'),
    ('regress_jobchunk_outsider', 'SELECT jobchunk.jc_chunk({F})'),
    ('regress_jobchunk_outsider', 'SELECT jobchunk.jc_job(950)'),
    ('regress_jobchunk_outsider', 'SELECT jobchunk.jc_jobs()'),
    ('regress_jobchunk_outsider', 'SELECT jobchunk.jc_statistics(950)'),
    ('regress_jobchunk_outsider', 'SELECT jobchunk.jc_progress(950)'),
    ('regress_jobchunk_outsider', 'SELECT jobchunk.jc_is_complete(950)'),
    ('regress_jobchunk_outsider', 'SELECT jobchunk.jc_heartbeat({T}, 2)'),
    ('regress_jobchunk_outsider', 'SELECT jobchunk.jc_heartbeat_batch(ARRAY[{T}], ARRAY[2])'),
    ('regress_jobchunk_outsider', 'SELECT jobchunk.jc_release(ARRAY[{T}], NULL)'),
    ('regress_jobchunk_outsider', 'SELECT jobchunk.jc_pause_job(950)'),
    ('regress_jobchunk_outsider', 'SELECT jobchunk.jc_resume_job(950)'),
    ('regress_jobchunk_outsider', 'SELECT jobchunk.jc_cancel_job(950)'),
    ('regress_jobchunk_outsider', 'SELECT jobchunk.jc_purge_job(952)'),
    ('regress_jobchunk_outsider', 'SELECT jobchunk.jc_purge_jobs(''0'')'),
    ('regress_jobchunk_outsider', 'SELECT count(*) FROM jobchunk.job_chunks'),
    ('regress_jobchunk_outsider', 'INSERT INTO jobchunk.crawl_jobs (name) VALUES (''x'')');

CREATE FUNCTION pg_temp.as_role(role name, sql text, OUT outcome text, OUT unchanged boolean)
LANGUAGE plpgsql AS $$
DECLARE
    before text := public.fingerprint();
    k record;
BEGIN
    FOR k IN SELECT * FROM pg_temp.chunk LOOP
        sql := replace(sql, '{' || k.name || '}', k.id::text);
    END LOOP;
    EXECUTE format('SET LOCAL ROLE %I', role);
    outcome := public.outcome(sql);
    RESET ROLE;
    unchanged := public.fingerprint() = before;
END
$$;
SELECT r.role, r.sql, o.outcome, o.unchanged
FROM refused r CROSS JOIN LATERAL pg_temp.as_role(r.role, r.sql) o
ORDER BY r.n;

-- Why the extension revokes EXECUTE from PUBLIC: the functions run as their
-- owner, so EXECUTE (with USAGE on the schema) is all a role needs.  With
-- USAGE granted to PUBLIC the outsider still cannot call any function of
-- the API but jc_shard(), which tells no more than an id does; with
-- EXECUTE granted to PUBLIC as well, as for an ordinary function, it could
-- retry chunks.  The two grants to PUBLIC the extension makes are made
-- again after the REVOKE.
GRANT USAGE ON SCHEMA jobchunk TO PUBLIC;
SELECT outcome FROM pg_temp.as_role('regress_jobchunk_outsider', 'SELECT jobchunk.jc_retry({F})');
SELECT outcome FROM pg_temp.as_role('regress_jobchunk_outsider', 'SELECT jobchunk.jc_shard()');
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA jobchunk TO PUBLIC;
SELECT outcome FROM pg_temp.as_role('regress_jobchunk_outsider', 'SELECT jobchunk.jc_retry({F})');
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA jobchunk FROM PUBLIC;
GRANT EXECUTE ON FUNCTION jobchunk.jc_shard(),
    jobchunk.jc_chunk_is_valid(text, timestamptz, integer, integer, integer, bigint)
TO PUBLIC;
REVOKE USAGE ON SCHEMA jobchunk FROM PUBLIC;

--
-- A table of a role that is not a superuser, referencing crawl_jobs with an
-- action on delete (the role was granted REFERENCES): a purge would change
-- its rows, and its AFTER triggers would fire with the privileges of the
-- extension's owner (this one records the role it runs as; a hostile one
-- could make its role a superuser).  Both purges refuse (42501) while the
-- table is there, and the trigger never runs; so they do when the table
-- references a superuser's table that cascades from crawl_jobs, and when a
-- table the purge would change is one on which such a role may create
-- triggers, or one with a trigger whose function such a role owns.  With ON
-- DELETE NO ACTION, a job the table references is not purged (23503), and
-- once its rows are deleted, it is.
--
CREATE ROLE regress_jobchunk_app NOLOGIN;
GRANT USAGE ON SCHEMA jobchunk TO regress_jobchunk_app;
GRANT REFERENCES (id) ON jobchunk.crawl_jobs TO regress_jobchunk_app;
GRANT CREATE ON SCHEMA public TO regress_jobchunk_app;
CREATE TABLE public.ran_as (role name);
GRANT INSERT ON public.ran_as TO PUBLIC;
SET LOCAL ROLE regress_jobchunk_app;
CREATE TABLE public.app_notes (
    job_id bigint REFERENCES jobchunk.crawl_jobs (id) ON DELETE SET NULL,
    note text);
CREATE FUNCTION public.app_notes_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.ran_as VALUES (current_user);
    RETURN NULL;
END
$$;
CREATE TRIGGER app_notes_changed AFTER UPDATE ON public.app_notes
    FOR EACH ROW EXECUTE FUNCTION public.app_notes_changed();
RESET ROLE;
INSERT INTO jobchunk.crawl_jobs (id, name) VALUES (960, 'noted');
\set noted 960
SELECT count(*) AS chunks FROM jobchunk.jc_create_chunks(:noted, 1);
SELECT count(*) AS completed
FROM jobchunk.jc_next_pending(:noted) AS c, jobchunk.jc_mark_completed(c.id, c.lease_token) AS d;
INSERT INTO public.app_notes VALUES (:noted, 'a note');
SELECT outcome(format('SELECT jobchunk.jc_purge_job(%s)', :noted));
SELECT outcome('SELECT jobchunk.jc_purge_jobs(''0'')');
SELECT count(*) AS triggers_run FROM public.ran_as;
SELECT count(*) AS jobs_left FROM jobchunk.crawl_jobs WHERE id = :noted;
-- Through a superuser's table: the purge would delete its row, and that
-- would set the app's note's key to NULL.
CREATE TABLE public.job_meta (id int PRIMARY KEY,
    job_id bigint REFERENCES jobchunk.crawl_jobs (id) ON DELETE CASCADE);
INSERT INTO public.job_meta VALUES (1, :noted);
GRANT REFERENCES ON public.job_meta TO regress_jobchunk_app;
SET LOCAL ROLE regress_jobchunk_app;
ALTER TABLE public.app_notes DROP CONSTRAINT app_notes_job_id_fkey,
    ADD COLUMN meta_id int DEFAULT 1 REFERENCES public.job_meta (id) ON DELETE SET NULL;
RESET ROLE;
SELECT outcome(format('SELECT jobchunk.jc_purge_job(%s)', :noted));
SELECT count(*) AS triggers_run FROM public.ran_as;
SET LOCAL ROLE regress_jobchunk_app;
ALTER TABLE public.app_notes DROP COLUMN meta_id,
    ADD FOREIGN KEY (job_id) REFERENCES jobchunk.crawl_jobs (id);
RESET ROLE;
-- A superuser's table the purge would change, or one of the extension's,
-- on which a role that is not a superuser may create triggers.
GRANT TRIGGER ON public.job_meta TO regress_jobchunk_app;
SELECT outcome(format('SELECT jobchunk.jc_purge_job(%s)', :noted));
REVOKE TRIGGER ON public.job_meta FROM regress_jobchunk_app;
-- A trigger whose function such a role owns (and so may replace).
CREATE TRIGGER job_meta_deleted AFTER DELETE ON public.job_meta
    FOR EACH ROW EXECUTE FUNCTION public.app_notes_changed();
SELECT outcome(format('SELECT jobchunk.jc_purge_job(%s)', :noted));
SELECT count(*) AS triggers_run FROM public.ran_as;
-- A superuser's trigger function, with a WHEN condition that calls such a
-- role's function.
DROP TRIGGER job_meta_deleted ON public.job_meta;
CREATE FUNCTION public.superusers_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RETURN NULL;
END
$$;
SET LOCAL ROLE regress_jobchunk_app;
CREATE FUNCTION public.app_condition(bigint) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.ran_as VALUES (current_user);
    RETURN false;
END
$$;
RESET ROLE;
CREATE TRIGGER job_meta_deleted AFTER DELETE ON public.job_meta
    FOR EACH ROW WHEN (public.app_condition(OLD.job_id))
    EXECUTE FUNCTION public.superusers_trigger();
SELECT outcome(format('SELECT jobchunk.jc_purge_job(%s)', :noted));
SELECT count(*) AS triggers_run FROM public.ran_as;
DROP TABLE public.job_meta;
-- A superuser's partition, with a key of its own, of such a role's
-- partitioned table: what that role puts on its table is put on the
-- partition too.
SET LOCAL ROLE regress_jobchunk_app;
CREATE TABLE public.app_parts (job_id bigint, k integer) PARTITION BY LIST (k);
RESET ROLE;
CREATE TABLE public.app_parts_1 PARTITION OF public.app_parts FOR VALUES IN (1);
ALTER TABLE public.app_parts_1
    ADD FOREIGN KEY (job_id) REFERENCES jobchunk.crawl_jobs (id) ON DELETE CASCADE;
SELECT outcome(format('SELECT jobchunk.jc_purge_job(%s)', :noted));
DROP TABLE public.app_parts;
GRANT TRIGGER ON jobchunk.job_counts TO PUBLIC;
SELECT outcome('SELECT jobchunk.jc_purge_jobs(''0'')');
REVOKE TRIGGER ON jobchunk.job_counts FROM PUBLIC;
SELECT outcome(format('SELECT jobchunk.jc_purge_job(%s)', :noted));
DELETE FROM public.app_notes;
SELECT jobchunk.jc_purge_job(:noted) AS purged;
SELECT count(*) AS triggers_run FROM public.ran_as;

--
-- Clean-up, as it would be done outside a test; the ROLLBACK then also
-- undoes the rest.
--
DROP OWNED BY regress_jobchunk_worker, regress_jobchunk_producer, regress_jobchunk_reader, regress_jobchunk_outsider, regress_jobchunk_app;
DROP ROLE regress_jobchunk_worker, regress_jobchunk_producer, regress_jobchunk_reader, regress_jobchunk_outsider, regress_jobchunk_app;
ROLLBACK;

SELECT count(*) AS roles_left FROM pg_roles WHERE rolname LIKE 'regress\_jobchunk\_%';
SELECT count(*) AS functions_with_changed_privileges
FROM pg_proc p LEFT JOIN pg_init_privs i
  ON i.objoid = p.oid AND i.classoid = 'pg_proc'::regclass AND i.objsubid = 0
WHERE p.pronamespace = 'jobchunk'::regnamespace
  AND p.proacl IS DISTINCT FROM i.initprivs;
SELECT public.fingerprint() = :'start' AS tables_as_before;
