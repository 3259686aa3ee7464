# The Python example worker (examples/worker.py, psycopg2): three of them
# drain a job of 72 chunks in batches of 12, whose work (12 x 0.3 s)
# outlasts the lease they claim with (3 s), so that only their batch
# heartbeats keep the chunks theirs.  Every chunk is completed by its first
# claim (no lease expired and was taken back), the workers' reports add up
# to the job, and the statistics equal the rows.  Then a worker waiting on
# a paused job, which would claim again only after an hour, is woken by the
# NOTIFY of the job's resumption, and drains it.  A worker sent SIGTERM in
# the middle of a batch finishes the chunk in hand, completes what it did,
# gives the rest back with jc_release and exits with status 0; another
# drains the job.  A worker waiting for a NOTIFY stops at once on SIGTERM or
# SIGINT.  A worker stopping while the server is down keeps trying, until a
# second SIGTERM stops it at once.  A worker on a job that does not exist
# stops, or fails without --until-done.

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

# Every worker started: one still running when the test ends (failed) is
# killed, so that it does not outlive the test.
my @started;
END { eval { $_->{handle}->kill_kill } for @started }

# A worker on job $job, named $name, with more options; the tests run in
# the source tree, where the example is.
sub start_worker
{
	my ($job, $name, @options) = @_;
	my %worker = (name => $name, out => '', err => '');
	push @started, \%worker;
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

# A new job of 10 chunks, and a worker named $name on it that claims them
# all under an hour's lease, so that none expires during the test, once it
# logs that it has begun the first chunk, which takes a second; returns the
# job and the worker.
sub start_busy_worker
{
	my ($name) = @_;
	my $job = $node->safe_psql('postgres', "SELECT jobchunk.jc_create_job('$name')");
	$node->safe_psql('postgres', "SELECT count(*) FROM jobchunk.jc_create_chunks($job, 5000)");
	my $worker = start_worker($job, $name, '--batch', '10', '--lease', '3600',
		'--work-seconds', '1', '--verbose');
	$worker->{handle}->pump until $worker->{err} =~ /$name: working on chunk/;
	return ($job, $worker);
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

# A worker sent SIGTERM in its first chunk: since none of its leases
# expires during the test, only a release can make a chunk pending again.
my ($stopped_job, $stopped) = start_busy_worker('stopped');
is( $node->safe_psql(
		'postgres', qq{
	SELECT count(*) FROM jobchunk.job_chunks WHERE job_id = $stopped_job AND status = 'processing'}),
	'10', 'the worker holds its batch of 10');
$stopped->{handle}->signal('TERM');
ok($stopped->{handle}->finish, 'SIGTERM stops the worker in its batch, with status 0')
  or diag($stopped->{err});
my ($done, $released) = $stopped->{out} =~ /completed (\d+) chunks, released (\d+)/
  or diag($stopped->{out});
cmp_ok($done, '>=', 1, 'it finishes the chunk it was working on');
is($done + $released, 10, 'and releases the others of its batch');
is( $node->safe_psql(
		'postgres', qq{
	SELECT status || ', retried ' || retry_count || ', '
	       || coalesce('by ' || task_id, 'no task') || ': ' || count(*)
	FROM jobchunk.job_chunks WHERE job_id = $stopped_job
	GROUP BY status, retry_count, task_id ORDER BY status}),
	"completed, retried 0, by stopped: $done\npending, retried 0, no task: $released",
	'the chunks it reports are completed, and the ones released pending with no retry');
is($node->safe_psql('postgres', $JOBS_WHOSE_STATISTICS_DIFFER),
	'0', 'the statistics equal the rows');

my $drainer = start_worker($stopped_job, 'drainer', '--batch', '10');
ok($drainer->{handle}->finish, 'a second worker drains the job')
  or diag($drainer->{err});
like($drainer->{out}, qr/completed $released chunks, released 0/,
	'it completes the chunks released');
is( $node->safe_psql(
		'postgres', qq{
	SELECT status || ', retried ' || retry_count || ': ' || count(*)
	FROM jobchunk.job_chunks WHERE job_id = $stopped_job GROUP BY status, retry_count}),
	'completed, retried 0: 10',
	'every chunk of the job is completed, none retried');

# Two workers waiting for a NOTIFY on a paused job, for an hour: one is sent
# SIGTERM, the other SIGINT.  Each stops at once (else the timeout of
# IPC::Run ends the test).
$node->safe_psql(
	'postgres', q{
	SELECT jobchunk.jc_create_job('idle');
	SELECT count(*) FROM jobchunk.jc_create_chunks(4, 500);
	SELECT jobchunk.jc_pause_job(4);
});
my %idle = map { ($_, start_worker(4, "idle-$_", '--idle', '3600')) } qw(TERM INT);
$node->poll_query_until(
	'postgres', q{
	SELECT count(*) = 2 FROM pg_stat_activity
	WHERE state = 'idle' AND query LIKE '%jc_progress(4)%'})
  or die 'the workers did not come to wait';
for my $signal (qw(TERM INT))
{
	$idle{$signal}{handle}->signal($signal);
	ok($idle{$signal}{handle}->finish, "SIG$signal stops a waiting worker, with status 0")
	  or diag($idle{$signal}{err});
	like($idle{$signal}{out}, qr/completed 0 chunks, released 0/,
		'having done nothing');
}

# A worker sent SIGTERM while the server is down keeps trying to report
# the chunk it finished; a second SIGTERM stops it at once, with status 1,
# and leaves its batch to the leases.
my ($cut_job, $cut) = start_busy_worker('cut');
$node->stop('fast');
my $signalled = length $cut->{err};
$cut->{handle}->signal('TERM');
$cut->{handle}->pump
  until (() = substr($cut->{err}, $signalled) =~ /trying again/g) >= 2;
pass('after SIGTERM, with the server down, the worker tries again and again');
$cut->{handle}->signal('TERM');
ok(!$cut->{handle}->finish, 'a second SIGTERM stops it, with status 1');
like($cut->{err}, qr/cut: stopped at once by a second signal/, 'saying so');
is($cut->{out}, '', 'and reporting no chunk');
$node->start;
is( $node->safe_psql(
		'postgres', qq{
	SELECT status || ' by ' || task_id || ': ' || count(*)
	FROM jobchunk.job_chunks WHERE job_id = $cut_job GROUP BY status, task_id}),
	'processing by cut: 10',
	'its batch is left processing, under its leases');

# A job that does not exist (as once purged): with --until-done a worker
# stops, as for a complete job; without, it fails.
my $gone = start_worker(99, 'gone');
ok($gone->{handle}->finish, 'with --until-done, a worker on a job that does not exist stops')
  or diag($gone->{err});
like($gone->{err}, qr/gone: job 99 does not exist/, 'saying so');
my ($out, $err) = ('', '');
ok( !IPC::Run::run(
		[ 'python3', 'examples/worker.py', '--dsn', $node->connstr('postgres'), '--job', '99' ],
		'>', \$out, '2>', \$err,
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default)),
	'without it, the worker fails');
like($err, qr/worker: job 99 does not exist/, 'saying so');

$node->stop;
done_testing();
