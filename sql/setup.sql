--
-- Install the extension, and the helper the other tests report errors with.
--
CREATE EXTENSION jobchunk;

SELECT e.extname, e.extversion, n.nspname, e.extrelocatable
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE e.extname = 'jobchunk';

-- What the extension owns.
SELECT pg_describe_object(classid, objid, objsubid) AS object
FROM pg_depend
WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'jobchunk')
  -- (PostgreSQL 17 also lists the tables' row types and the array types)
  AND NOT (classid = 'pg_type'::regclass AND objid IN
           (SELECT reltype FROM pg_class WHERE relkind <> 'c'
            UNION ALL SELECT typarray FROM pg_type))
ORDER BY 1;

-- Every function is written in C, and runs as the extension's owner (SECURITY
-- DEFINER) with its search_path fixed, except the check constraint of
-- job_chunks, which reads nothing.  With its volatility and parallel safety.
SELECT p.proname, l.lanname, p.prosecdef, p.proconfig, p.provolatile, p.proparallel
FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
WHERE p.pronamespace = 'jobchunk'::regnamespace
ORDER BY 1, p.oid::regprocedure::text;

-- outcome(sql) runs one statement and tells how it ended: 'ok', or the
-- SQLSTATE with the message and detail.  The statement's changes are kept
-- only when it succeeds.
CREATE FUNCTION public.outcome(sql text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    state text;
    msg text;
    detail text;
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                            detail = PG_EXCEPTION_DETAIL;
    RETURN state || ': ' || msg || coalesce(' (' || nullif(detail, '') || ')', '');
END
$$;

-- A fingerprint of every row of the extension's tables, to prove that a
-- failed call changed nothing.
CREATE FUNCTION public.fingerprint() RETURNS text
LANGUAGE sql AS $$
    SELECT md5(coalesce((SELECT string_agg(j::text, ',' ORDER BY j.id)
                         FROM jobchunk.crawl_jobs j), '') ||
               coalesce((SELECT string_agg(c::text, ',' ORDER BY c.id)
                         FROM jobchunk.job_chunks c), '') ||
               coalesce((SELECT string_agg(k::text, ',' ORDER BY k.job_id, k.stripe)
                         FROM jobchunk.job_counts k), ''))
$$;
