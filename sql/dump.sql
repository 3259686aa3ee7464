--
-- pg_dump includes the rows of the three tables and the sequences' positions.
--
SELECT c::regclass AS configuration, cond AS filter
FROM pg_extension,
     unnest(extconfig, extcondition) AS t(c, cond)
WHERE extname = 'jobchunk'
ORDER BY 1::text;
