# A hot standby.  Progress, statistics, the jobs and their chunks can be read
# there (a dashboard need not load the primary), exact and the same as the
# primary's once replay has caught up; every call that would change chunks
# or jobs is refused there with 25006, as any write is.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use JobchunkTest;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->start;

$primary->safe_psql(
	'postgres', q{
	CREATE EXTENSION jobchunk;
	SELECT jobchunk.jc_create_job('replicated');
	SET jobchunk.chunk_size = 1;
	SELECT count(*) FROM jobchunk.jc_create_chunks(1, 1000);
	SELECT count(*) FROM jobchunk.jc_claim(1, 300, 'primary');
	SELECT count(*) FROM jobchunk.jc_mark_completed(
		ARRAY(SELECT id FROM jobchunk.job_chunks WHERE status = 'processing' ORDER BY id LIMIT 200));
	SELECT count(*)
	FROM (SELECT id FROM jobchunk.job_chunks WHERE status = 'processing' ORDER BY id LIMIT 10) AS c,
	     LATERAL jobchunk.jc_mark_failed(c.id, 'gone') AS f;
});

$primary->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'backup', has_streaming => 1);
$standby->start;

# More work on the primary after the backup, streamed to the standby.
$primary->safe_psql(
	'postgres', q{
	SELECT count(*) FROM jobchunk.jc_claim(1, 50, 'after the backup');
	-- job 2, finished: one for retention to purge
	SELECT jobchunk.jc_create_job('finished');
	SELECT count(*) FROM jobchunk.jc_create_chunks(2, 1000);
	SELECT count(*) FROM jobchunk.jc_mark_completed(ARRAY(SELECT id FROM jobchunk.jc_claim(2, 2)));
	SELECT count(*) FROM jobchunk.jc_mark_completed(
		ARRAY(SELECT id FROM jobchunk.job_chunks WHERE status = 'processing' ORDER BY id LIMIT 60));
});
$primary->wait_for_catchup($standby);

is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'),
	't', 'the standby is in recovery');

# The reads, on both: the same answers.
my %reads = (
	'statistics' => 'SELECT * FROM jobchunk.jc_statistics(1)',
	'progress' => q{SELECT job_id, total_chunks, pending_chunks, processing_chunks,
		completed_chunks, failed_chunks, completion_percentage, success_rate, is_complete
		FROM jobchunk.jc_progress(1)},
	'is complete' => 'SELECT jobchunk.jc_is_complete(1)',
	'job' => 'SELECT * FROM jobchunk.jc_job(1)',
	'jobs' => 'SELECT * FROM jobchunk.jc_jobs()',
	'failed chunks' =>
	  q{SELECT string_agg(id::text, ',' ORDER BY id) FROM jobchunk.jc_chunks(1, 'failed')},
	'one chunk' => q{SELECT status, lease_token FROM jobchunk.jc_chunk(
		(SELECT min(id) FROM jobchunk.job_chunks WHERE status = 'processing'))},);
foreach my $read (sort keys %reads)
{
	my $on_primary = $primary->safe_psql('postgres', $reads{$read});
	isnt($on_primary, '', "$read: the primary answers");
	is($standby->safe_psql('postgres', $reads{$read}),
		$on_primary, "$read: the standby answers the same");
}
is( $standby->safe_psql(
		'postgres', 'SELECT total, pending, processing, completed, failed FROM jobchunk.jc_statistics(1)'),
	'1000|650|80|260|10',
	'the standby\'s statistics are the work done');

# The counts equal the standby's own rows.
is($standby->safe_psql('postgres', $JOBS_WHOSE_STATISTICS_DIFFER),
	'0', 'on the standby, the counts of every job equal its rows');

# Every change is refused as a write in a read-only transaction.
my $processing = q{(SELECT min(id) FROM jobchunk.job_chunks WHERE status = 'processing')};
foreach my $call (
	'jobchunk.jc_next_pending(1)',
	'jobchunk.jc_claim(1, 5)',
	'jobchunk.jc_next_pending()',
	'jobchunk.jc_claim(NULL, 5)',
	"jobchunk.jc_mark_processing((SELECT min(id) FROM jobchunk.job_chunks WHERE status = 'pending'))",
	"jobchunk.jc_heartbeat($processing, (SELECT lease_token FROM jobchunk.job_chunks WHERE id = $processing))",
	"jobchunk.jc_heartbeat_batch(ARRAY[$processing], ARRAY(SELECT lease_token FROM jobchunk.job_chunks WHERE id = $processing))",
	"jobchunk.jc_release(ARRAY[$processing], NULL)",
	"jobchunk.jc_mark_completed(ARRAY[$processing])",
	q{jobchunk.jc_mark_completed((SELECT min(id) FROM jobchunk.job_chunks WHERE status = 'processing'))},
	q{jobchunk.jc_mark_failed((SELECT min(id) FROM jobchunk.job_chunks WHERE status = 'processing'), 'x')},
	q{jobchunk.jc_retry((SELECT min(id) FROM jobchunk.job_chunks WHERE status = 'failed'))},
	'jobchunk.jc_create_job(NULL)',
	'jobchunk.jc_create_chunks(1, 10)',
	'jobchunk.jc_pause_job(1)',
	'jobchunk.jc_resume_job(1)',
	'jobchunk.jc_cancel_job(1)',
	'jobchunk.jc_set_shard(1)',
	'jobchunk.jc_purge_job(2)',
	q{jobchunk.jc_purge_jobs('0')})
{
	my ($ret, $stdout, $stderr) =
	  $standby->psql('postgres', "\\set VERBOSITY verbose\nSELECT $call");
	like($stderr, qr/ERROR:  25006:/, "on the standby, $call is refused with 25006");
}

$standby->stop;
$primary->stop;
done_testing();
