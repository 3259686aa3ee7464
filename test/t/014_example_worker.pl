# The Python example worker (examples/worker.py, psycopg2): three of them
# drain a job of 72 chunks in batches of 12, whose work (12 x 0.3 s)
# outlasts the lease they claim with (3 s), so that only their batch
# heartbeats keep the chunks theirs.  Every chunk is completed by its first
# claim (no lease expired and was taken back), the workers' reports add up
# to the job, and the statistics equal the rows.  Then a worker waiting on
# a paused job, which would claim again only after an hour, is woken by the
# NOTIFY of the job's resumption, and drains it.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use JobchunkTest;

my $node = PostgreSQL::Test::Cluster->new('example');
$node->init;
$node->start;
$node->safe_psql(
	'postgres', q{
	CREATE EXTENSION jobchunk;
	SELECT jobchunk.jc_create_job('example');
	SELECT count(*) FROM jobchunk.jc_create_chunks(1, 36000);
});

# A worker on job $job, named $name, with more options; the tests run in
# the source tree, where the example is.
sub start_worker
{
	my ($job, $name, @options) = @_;
	my %worker = (name => $name, out => '', err => '');
	$worker{handle} = IPC::Run::start(
		[
			'python3', 'examples/worker.py',
			'--dsn', $node->connstr('postgres'),
			'--job', $job, '--name', $name, '--until-done', @options
		],
		'>', \$worker{out}, '2>', \$worker{err},
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	return \%worker;
}

my @workers = map {
	start_worker(1, $_, '--batch', '12', '--lease', '3', '--work-seconds', '0.3',
		'--idle', '0.2')
} qw(w1 w2 w3);

my $completed = 0;
for my $worker (@workers)
{
	ok($worker->{handle}->finish, "$worker->{name} stops once the job is complete")
	  or diag($worker->{err});
	$completed += $1 if $worker->{out} =~ /completed (\d+) chunks/;
}
is($completed, 72, "the workers' completions add up to the job's 72 chunks");
is( $node->safe_psql(
		'postgres', q{
	SELECT status || ', retried ' || retry_count || ': ' || count(*)
	FROM jobchunk.job_chunks GROUP BY status, retry_count}),
	'completed, retried 0: 72',
	'every chunk is completed by its first claim: the heartbeats kept the leases');
is($node->safe_psql('postgres', $JOBS_WHOSE_STATISTICS_DIFFER),
	'0', 'the statistics equal the rows');

$node->safe_psql(
	'postgres', q{
	SELECT jobchunk.jc_create_job('paused');
	SELECT count(*) FROM jobchunk.jc_create_chunks(2, 6000);
	SELECT jobchunk.jc_pause_job(2);
});
my $waiter = start_worker(2, 'waiter', '--idle', '3600');
$node->poll_query_until(
	'postgres', q{
	SELECT count(*) > 0 FROM pg_stat_activity
	WHERE state = 'idle' AND query LIKE '%jc_progress%'})
  or die 'the worker did not come to wait';
$node->safe_psql('postgres', 'SELECT jobchunk.jc_resume_job(2)');
ok($waiter->{handle}->finish, 'the resumption wakes the waiting worker, which drains the job')
  or diag($waiter->{err});
like($waiter->{out}, qr/completed 12 chunks/, 'it completes the 12 chunks');

$node->stop;
done_testing();
