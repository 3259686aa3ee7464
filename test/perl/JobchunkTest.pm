# test/perl/JobchunkTest.pm: set-up shared by the TAP tests in test/t/.

package JobchunkTest;

use strict;
use warnings;

use Exporter 'import';
our @EXPORT = qw(create_drain_job $JOBS_WHOSE_STATISTICS_DIFFER);

# A query counting the jobs whose jc_statistics() differ from their rows:
# 0 when the counts are exact.
our $JOBS_WHOSE_STATISTICS_DIFFER = q{
	SELECT count(*)
	FROM jobchunk.crawl_jobs AS j
	CROSS JOIN LATERAL jobchunk.jc_statistics(j.id) AS s
	CROSS JOIN LATERAL (
		SELECT count(*) AS total,
		       count(*) FILTER (WHERE status = 'pending') AS pending,
		       count(*) FILTER (WHERE status = 'processing') AS processing,
		       count(*) FILTER (WHERE status = 'completed') AS completed,
		       count(*) FILTER (WHERE status = 'failed') AS failed
		FROM jobchunk.job_chunks WHERE job_id = j.id) AS t
	WHERE (s.total, s.pending, s.processing, s.completed, s.failed)
	      IS DISTINCT FROM (t.total, t.pending, t.processing, t.completed, t.failed)};

# create_drain_job($node, $name, $chunks): in database postgres, install
# jobchunk and make job 1, named $name, of $chunks one-image chunks, for
# workers that log what they complete.  completions logs every completion a
# worker saw succeed, in the same transaction; complete(chunk, token)
# completes with the token and reports a refused (stale) completion as
# false.  Chunks taken back many times must not run out of retries, so the
# retry limit is raised.
sub create_drain_job
{
	my ($node, $name, $chunks) = @_;

	$node->safe_psql(
		'postgres', qq{
		CREATE EXTENSION jobchunk;
		ALTER DATABASE postgres SET jobchunk.max_retries = 1000;
		CREATE TABLE completions (chunk_id bigint, lease_token bigint);
		CREATE FUNCTION complete(chunk bigint, token bigint) RETURNS boolean
		LANGUAGE plpgsql AS \$\$
		BEGIN
			PERFORM jobchunk.jc_mark_completed(chunk, token);
			INSERT INTO completions VALUES (chunk, token);
			RETURN true;
		EXCEPTION WHEN object_not_in_prerequisite_state THEN
			RETURN false;
		END
		\$\$;
		INSERT INTO jobchunk.crawl_jobs (id, name) VALUES (1, '$name');
		SET jobchunk.chunk_size = 1;
		SELECT count(*) FROM jobchunk.jc_create_chunks(1, $chunks);
	});
	return;
}

1;
