# A worker whose backend is terminated (pg_terminate_backend) while it holds
# claims: the claims it committed stay processing until their lease runs
# out, and then the next claim takes them back as a new attempt with a new,
# larger token (and the dead worker's token is refused); the claims it had
# not committed are undone at once, leaving the chunks exactly as they were.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('terminate');
$node->init;
$node->start;

# Job 1 is for the committed claims, job 2 for the uncommitted ones, so that
# a claim in one job never takes back an expired lease of the other.  The
# first two chunks of job 2 have been claimed, failed and retried before, so
# that an undone claim has a token and a retry count to keep.
$node->safe_psql(
	'postgres', q{
	CREATE EXTENSION jobchunk;
	INSERT INTO jobchunk.crawl_jobs (id, name) VALUES (1, 'committed'), (2, 'uncommitted');
	SET jobchunk.chunk_size = 1;
	SELECT count(*) FROM jobchunk.jc_create_chunks(1, 3);
	SELECT count(*) FROM jobchunk.jc_create_chunks(2, 5);
	SELECT jobchunk.jc_mark_failed(id, 'first attempt failed', lease_token)
	FROM jobchunk.jc_claim(2, 2, 'earlier worker');
	SELECT jobchunk.jc_retry(id) FROM jobchunk.jc_chunks(2, 'failed');
});

# Every column of a job's chunks, to compare before and after.
my $rows_of_job2 = q{
	SELECT string_agg(c::text, E'\n' ORDER BY id) FROM jobchunk.job_chunks c WHERE job_id = 2};
my $job2_before = $node->safe_psql('postgres', $rows_of_job2);
like($job2_before, qr/first attempt failed/, 'job 2 has retried chunks');

# A claim's lease token is the time of the call in microseconds since 2000
# (between the start of its statement and the end), or the chunk's last
# token + 1 if that is larger.
my $from_clock = q{lease_token BETWEEN
	(extract(epoch FROM statement_timestamp() - timestamptz '2000-01-01 00:00:00+00') * 1000000)::bigint
	AND (extract(epoch FROM clock_timestamp() - timestamptz '2000-01-01 00:00:00+00') * 1000000)::bigint};
my $tokens_of_job2 = q{
	SELECT string_agg(id || ':' || lease_token, ',' ORDER BY id)
	FROM jobchunk.job_chunks WHERE job_id = 2 AND id IN (4, 5, 6)};
my $job2_tokens_before = $node->safe_psql('postgres', $tokens_of_job2);

my $worker = $node->background_psql('postgres');
my $pid = $worker->query_safe('SELECT pg_backend_pid()');

# (a) Claims that commit: all three chunks of job 1, with a short lease.
is( $worker->query_safe(
		qq{SELECT string_agg(id || ':' || ($from_clock), ',' ORDER BY id)
		  FROM jobchunk.jc_claim(1, 3, 'doomed', interval '1 second')}),
	'1:true,2:true,3:true',
	'the worker claims job 1 and commits');
my $doomed_token = $node->safe_psql('postgres',
	'SELECT DISTINCT lease_token FROM jobchunk.job_chunks WHERE job_id = 1');

# (b) Claims inside a transaction that never commits: the two retried
# chunks come first in claim order, then a fresh one.
$worker->query_safe('BEGIN');
is( $worker->query_safe(
		qq{SELECT string_agg(id || ':' || ($from_clock), ',' ORDER BY id)
		  FROM jobchunk.jc_claim(2, 3, 'doomed', interval '1 hour')}),
	'4:true,5:true,6:true',
	'the worker claims three chunks of job 2 in an open transaction');
is($node->safe_psql('postgres', $rows_of_job2),
	$job2_before, 'other sessions do not see the uncommitted claims');

$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
$node->poll_query_until('postgres', "SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $pid")
  or die "the worker's backend did not end";
eval { $worker->quit };

# (b) The uncommitted claims are gone at once: job 2 is exactly as it was,
# and the first retried chunk is the next one handed out, with a new token.
is($node->safe_psql('postgres', $rows_of_job2),
	$job2_before, 'uncommitted claims are undone: job 2 unchanged');
is( $node->safe_psql(
		'postgres', q{
	SELECT string_agg(id || ':' || status, ',' ORDER BY id)
	FROM jobchunk.job_chunks WHERE job_id = 2 AND id IN (4, 5, 6)}),
	'4:pending,5:pending,6:pending',
	'undone claims are pending');
is($node->safe_psql('postgres', $tokens_of_job2),
	$job2_tokens_before, 'undone claims keep their old tokens');
is( $node->safe_psql(
		'postgres', qq{
	SELECT id || ':' || ($from_clock) || ':' || retry_count
	FROM jobchunk.jc_next_pending(2, 'survivor', interval '1 hour')}),
	'4:true:1',
	'the next claim of job 2 gets the first undone chunk at once');

# (a) The committed claims outlive the worker: still processing, with the
# worker's token and task id, until the lease runs out.
is( $node->safe_psql(
		'postgres', qq{
	SELECT string_agg(id || ':' || status || ':' || (lease_token = $doomed_token) || ':' || task_id
	                  || ':' || (lease_expires_at IS NOT NULL), ',' ORDER BY id)
	FROM jobchunk.job_chunks WHERE job_id = 1}),
	'1:processing:true:doomed:true,2:processing:true:doomed:true,3:processing:true:doomed:true',
	'committed claims stay processing after the worker died');

# Once the lease has run out, a claim by another session takes all three
# back: they expire together, so a claim gets either none or all of them.
$node->poll_query_until(
	'postgres', q{
	SELECT count(*) FROM jobchunk.jc_claim(1, 3, 'successor', interval '1 hour')}, '3'
) or die 'the expired claims were never handed out again';
is( $node->safe_psql(
		'postgres', qq{
	SELECT string_agg(id || ':' || status || ':' || (lease_token > $doomed_token) || ':' || retry_count
	                  || ':' || task_id || ':' || error_message, ',' ORDER BY id)
	FROM jobchunk.job_chunks WHERE job_id = 1}),
	'1:processing:true:1:successor:lease expired,'
	  . '2:processing:true:1:successor:lease expired,'
	  . '3:processing:true:1:successor:lease expired',
	'expired claims come back as new attempts with larger tokens');

# The dead worker's token is refused, and changes nothing.
my ($ret, $stdout, $stderr) = $node->psql(
	'postgres',
	qq{\\set VERBOSITY verbose
	  SELECT jobchunk.jc_mark_completed(1, $doomed_token)});
isnt($ret, 0, 'a completion with the dead worker\'s token fails');
like(
	$stderr,
	qr/55000: chunk 1 is no longer held by lease token $doomed_token\b/,
	'the stale token is refused with 55000');
is( $node->safe_psql(
		'postgres', q{
	SELECT status FROM jobchunk.jc_mark_completed(1,
		(SELECT lease_token FROM jobchunk.job_chunks WHERE id = 1));
	SELECT total || '/' || processing || '/' || completed FROM jobchunk.jc_statistics(1);}),
	"completed\n3/2/1",
	'the successor completes with its token; the statistics follow');

$node->stop;
done_testing();
