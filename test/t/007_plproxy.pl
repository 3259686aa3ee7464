# Scaling out: two shards (databases with jobchunk, numbered by
# jc_set_shard) behind a PL/Proxy database with jobchunk_proxy.  Each
# partition is checked to be the shard of its number; every call goes to
# the shard that holds its job or chunk; a job's row is read from its
# shard, and the jobs of all shards are listed; claims of any job find the
# chunks of every shard; errors come back with the shard's SQLSTATE; a
# batch completion, heartbeat or release across shards is refused whole;
# the counts on each shard stay exact while four workers drain both
# through the proxy; a shard that is down is passed over by claims of any
# job, and one that refuses the caller is not; a purge by age purges the
# shards it can reach; the cluster grows from two shards to four, checked
# in the transaction that adds them (listed out of order, refused and
# rolled back); an id of a shard the cluster does not have is refused; a
# shard's number is set once, before its first id (and set again to
# itself without a change), and read back only while its two sequences
# and its rows agree; a job made through a partition numbered for another
# shard is refused, and the check of the partitions names it; the proxy
# has every function of jobchunk; the proxy's update from 1.0 (not while
# an index uses jc_shard_of) and back from 1.7 to 1.6 and 1.5, and its
# refusal to work without shards; each extension is refused in the
# other's database; the example worker, behind the proxy, waits out its
# shard's absence, and is woken by its shard's NOTIFY when told to listen
# there.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('plproxy');
$node->init;
$node->start;

my $host = $node->host;
my $port = $node->port;
for my $shard (0, 1)
{
	$node->safe_psql('postgres', "CREATE DATABASE shard$shard");
	$node->safe_psql(
		"shard$shard", qq{
		CREATE EXTENSION jobchunk;
		SELECT jobchunk.jc_set_shard($shard);
		ALTER DATABASE shard$shard SET jobchunk.chunk_size = 1;
	});
}

# A proxy database $proxy in front of the databases @shards, partition k
# being the k-th of them.
sub create_proxy
{
	my ($proxy, @shards) = @_;
	my $partitions = join(', ',
		map { "p$_ 'dbname=$shards[$_] host=$host port=$port'" } 0 .. $#shards);
	$node->safe_psql('postgres', "CREATE DATABASE $proxy");
	$node->safe_psql(
		$proxy, qq{
		CREATE EXTENSION jobchunk_proxy CASCADE;
		CREATE SERVER jobchunk FOREIGN DATA WRAPPER plproxy OPTIONS ($partitions);
		CREATE USER MAPPING FOR PUBLIC SERVER jobchunk;
	});
	return;
}
create_proxy('proxy', 'shard0', 'shard1');

sub proxy { return $node->safe_psql('proxy', $_[0]); }
sub shard { return $node->safe_psql("shard$_[0]", $_[1]); }

# The SQLSTATE of a statement run in database $db.
sub sqlstate
{
	my ($db, $sql) = @_;
	my (undef, $stdout) = $node->psql(
		$db, qq{$sql;
		\\echo sqlstate :LAST_ERROR_SQLSTATE},
		on_error_stop => 0);
	return $stdout =~ /sqlstate (\w+)/ ? $1 : 'none';
}

# Jobs: created at random shards, each where its id says.
proxy('SELECT jobchunk.jc_create_job(\'job \' || i) FROM generate_series(1, 32) AS i');
my @jobs = map { shard($_, 'SELECT count(*) FROM jobchunk.crawl_jobs') } (0, 1);
is($jobs[0] + $jobs[1], 32, '32 jobs created through the proxy');
cmp_ok($jobs[0] * $jobs[1], '>', 0, 'both shards got jobs');
is( shard(0, 'SELECT count(*) FROM jobchunk.crawl_jobs WHERE id >> 48 <> 0')
	  . '/' . shard(1, 'SELECT count(*) FROM jobchunk.crawl_jobs WHERE id >> 48 <> 1'),
	'0/0',
	'each job\'s id names its shard');

# Each partition is the database of its number, as the proxy checks.
is(join(',', map { shard($_, 'SELECT jobchunk.jc_shard()') } (0, 1)), '0,1',
	'each shard tells its number');
is(proxy('SELECT jobchunk.jc_check_shards()'), 2, 'the proxy finds each partition numbered as it');

# One job with 300 one-image chunks on each shard.
my @job = map { shard($_, 'SELECT min(id) FROM jobchunk.crawl_jobs') } (0, 1);
is(proxy("SELECT count(*) FROM jobchunk.jc_create_chunks($_, 300)"), 300,
	"300 chunks for job $_ through the proxy")
  for @job;
is( shard(1, q{SELECT (min(id) >> 48) || '/' || (max(id) >> 48) FROM jobchunk.job_chunks})
	  . ' ' . shard(0, 'SELECT count(*) FROM jobchunk.job_chunks'),
	'1/1 300',
	'chunks are numbered in their shard\'s range, on their job\'s shard');

# Errors come back with the shard's SQLSTATE, and change nothing.
my $pending_chunk = shard(0, "SELECT min(id) FROM jobchunk.job_chunks");
is(sqlstate('proxy', "SELECT jobchunk.jc_mark_completed($pending_chunk)"),
	'55000', 'completing a pending chunk: 55000 from the shard');
my (undef, undef, $remote) = $node->psql('proxy', "SELECT jobchunk.jc_mark_completed($pending_chunk)");
like($remote,
	qr/ERROR:  jobchunk\.jc_mark_completed\(2\): \[shard0\] REMOTE ERROR: chunk $pending_chunk cannot be marked completed\n.*Remote detail: The chunk is pending/s,
	'its message is the shard\'s after PL/Proxy\'s prefix, as the README shows');
is(sqlstate('proxy', 'SELECT jobchunk.jc_is_complete(NULL)'),
	'22023', 'a NULL job id: refused as on one server');
is(sqlstate('proxy', "SELECT jobchunk.jc_statistics($job[1] + 1000)"),
	'P0002', 'a job id that names no job');
my (undef, undef, $beyond) = $node->psql('proxy',
	"\\set VERBOSITY verbose\nSELECT jobchunk.jc_statistics((2::bigint << 48) + 1)");
like($beyond, qr/ERROR:  42704: PL\/Proxy cluster "jobchunk" has no shard 2/,
	'an id of a shard the cluster does not have is refused, not sent to another shard');
(undef, undef, $beyond) = $node->psql('proxy',
	"SELECT jobchunk.jc_mark_completed(ARRAY[NULL, (2::bigint << 48) + 5])");
like($beyond, qr/DETAIL:  Id 562949953421317 was numbered by shard 2/,
	'... in a batch too, naming the id');

# A batch across shards is refused whole; on one shard it completes.
my @claimed = map {
	[ split /\|/, proxy("SELECT id || '|' || lease_token FROM jobchunk.jc_next_pending($_)") ]
} @job;
is(sqlstate('proxy',
		"SELECT jobchunk.jc_mark_completed(ARRAY[$claimed[0][0], $claimed[1][0]]::bigint[])"),
	'22023', 'a batch on two shards is refused');
is(sqlstate('proxy', "SELECT jobchunk.jc_mark_completed(ARRAY[NULL, $claimed[1][0]]::bigint[])"),
	'22023', 'a batch with a NULL element: refused by the shard, as on one server');
my $leases = q{SELECT string_agg(id || ':' || lease_expires_at, ',') FROM jobchunk.job_chunks
	WHERE status = 'processing'};
my @leases_before = (shard(0, $leases), shard(1, $leases));
is(sqlstate('proxy',
		"SELECT jobchunk.jc_heartbeat_batch(ARRAY[$claimed[0][0], $claimed[1][0]], ARRAY[$claimed[0][1], $claimed[1][1]])"),
	'22023', 'a batch heartbeat on two shards is refused');
is( shard(0, "SELECT status FROM jobchunk.job_chunks WHERE id = $claimed[0][0]") . '/'
	  . shard(1, "SELECT status FROM jobchunk.job_chunks WHERE id = $claimed[1][0]"),
	'processing/processing',
	'the refused batch completion changed nothing');
is(shard($_, $leases), $leases_before[$_], "the refused batch heartbeat left the leases on shard $_")
  for (0, 1);
is( proxy(
		"SELECT count(*) FROM jobchunk.jc_heartbeat_batch(ARRAY[$_->[0]], ARRAY[$_->[1]], interval '3 hours')
		 WHERE lease_expires_at > now() + interval '2 hours'"),
	1,
	"a batch heartbeat on shard of chunk $_->[0] extends its lease")
  for @claimed;
isnt(shard($_, $leases), $leases_before[$_], "the leases on shard $_ were extended")
  for (0, 1);
is( proxy(
		"SELECT count(*) FROM jobchunk.jc_mark_completed(ARRAY[$_->[0]]::bigint[], ARRAY[$_->[1]]::bigint[])"),
	1,
	"a batch on shard of chunk $_->[0] completes")
  for @claimed;

# So is a release across shards; on one shard it gives the chunk back.
my @held = map {
	[ split /\|/, proxy("SELECT id || '|' || lease_token FROM jobchunk.jc_next_pending($_)") ]
} @job;
my $release_both =
  "SELECT jobchunk.jc_release(ARRAY[$held[0][0], $held[1][0]], ARRAY[$held[0][1], $held[1][1]])";
is(sqlstate('proxy', $release_both), '22023', 'a release on two shards is refused');
my (undef, undef, $refusal) = $node->psql('proxy', $release_both);
like($refusal, qr/HINT:  Make one call for the chunks of each job, or of each shard/,
	'its hint says how to split the call');
is( shard(0, "SELECT status FROM jobchunk.job_chunks WHERE id = $held[0][0]") . '/'
	  . shard(1, "SELECT status FROM jobchunk.job_chunks WHERE id = $held[1][0]"),
	'processing/processing',
	'the refused release changed nothing');
is( proxy(
		"SELECT status || ', retried ' || retry_count FROM jobchunk.jc_release(ARRAY[$_->[0]], ARRAY[$_->[1]])"),
	'pending, retried 0',
	"a release on the shard of chunk $_->[0] gives it back")
  for @held;

# Claims of any job: a batch of 5 takes from both shards when one runs short.
proxy("SELECT jobchunk.jc_pause_job($job[0])");
my $other = proxy("SELECT string_agg(DISTINCT (job_id >> 48)::text, ',')
	FROM jobchunk.jc_claim(NULL, 5)");
is($other, '1', 'with shard 0\'s job paused, claims of any job come from shard 1');
proxy("SELECT jobchunk.jc_resume_job($job[0])");

# A job's row comes from its shard, as it is there.
is(proxy("SELECT j::text FROM jobchunk.jc_job($_) AS j"),
	shard($_ >> 48,
		"SELECT (id, name, state, created_at, updated_at)::text FROM jobchunk.crawl_jobs WHERE id = $_"),
	"job $_ read through the proxy is its shard's row")
  for @job;
proxy("SELECT jobchunk.jc_pause_job($job[1])");
is(proxy("SELECT state FROM jobchunk.jc_job($job[1])"), 'paused', '... with its state as it changes');
proxy("SELECT jobchunk.jc_resume_job($job[1])");
is(proxy("SELECT count(*) FROM jobchunk.jc_job($job[1] + 1000)"), 0, 'a job id that names no job: no row');
# Every job of every shard, shard after shard, each shard's in id order.
my $rows = q{SELECT string_agg((id, name, state, created_at, updated_at)::text, ';' ORDER BY id)
	FROM jobchunk.crawl_jobs};
is(proxy("SELECT string_agg(j::text, ';') FROM jobchunk.jc_jobs() AS j"),
	shard(0, $rows) . ';' . shard(1, $rows),
	'the jobs listed through the proxy are the shards\' rows');
proxy(
	"SELECT jobchunk.jc_mark_completed(array_agg(id), array_agg(lease_token))
	FROM jobchunk.jc_chunks($job[1], 'processing')");

# Four workers drain 400 chunks through the proxy, each claim of any job.
$node->pgbench(
	'--no-vacuum --client=4 --transactions=100',
	0,
	[qr{processed: 400/400}],
	[],
	'four workers claim and complete through the proxy',
	{
		'007_worker.sql' => q{
SELECT id AS cid, lease_token AS tok FROM jobchunk.jc_next_pending() \gset
SELECT FROM jobchunk.jc_mark_completed(:cid, :tok);
}
	},
	'proxy');

my $completed = 0;
for my $shard (0, 1)
{
	my $j = $job[$shard];
	my $progress = qq{SELECT (p.total_chunks, p.pending_chunks, p.processing_chunks,
		p.completed_chunks, p.failed_chunks, p.completion_percentage,
		p.success_rate, p.is_complete)::text FROM jobchunk.jc_progress($j) AS p};
	is( shard(
			$shard, qq{
		SELECT s.total = count(*)
		   AND s.pending = count(*) FILTER (WHERE c.status = 'pending')
		   AND s.processing = count(*) FILTER (WHERE c.status = 'processing')
		   AND s.completed = count(*) FILTER (WHERE c.status = 'completed')
		   AND s.failed = count(*) FILTER (WHERE c.status = 'failed')
		FROM jobchunk.jc_statistics($j) AS s, jobchunk.job_chunks AS c
		WHERE c.job_id = $j
		GROUP BY s.total, s.pending, s.processing, s.completed, s.failed}),
		't',
		"shard $shard: the statistics equal the table");
	is(proxy($progress), shard($shard, $progress),
		"shard $shard: progress through the proxy is the shard's");
	$completed += shard($shard,
		"SELECT count(*) FROM jobchunk.job_chunks WHERE status = 'completed'");
}
is($completed, 407, 'every cycle completed a chunk of its own (400, and 7 above)');
is(proxy("SELECT count(*) FROM jobchunk.jc_chunks($job[0], 'processing')")
	  + proxy("SELECT count(*) FROM jobchunk.jc_chunks($job[1], 'processing')"),
	0, 'no chunk is left processing');

# A claim of any job passes over a shard that is down; it fails only when
# no other shard has chunks to give.  setseed() fixes the shard a claim
# starts from.
sub seed_starting_at
{
	my ($shard) = @_;
	for my $seed (map { $_ / 100 } 1 .. 99)
	{
		return $seed
		  if proxy("SELECT floor(random() * 2) FROM (SELECT setseed($seed)) AS s") == $shard;
	}
	die "no seed starts at shard $shard";
}
my $left = shard(0, q{SELECT count(*) FROM jobchunk.job_chunks WHERE status = 'pending'});
$node->safe_psql('postgres', 'ALTER DATABASE shard1 WITH ALLOW_CONNECTIONS false');
is( (split /\n/, proxy('SELECT setseed(' . seed_starting_at(1) . ');
		SELECT count(*) FROM jobchunk.jc_claim(NULL, 3)'))[-1],
	3, 'shard 1 down: a claim that starts there takes chunks of shard 0');
is( (split /\n/, proxy('SELECT setseed(' . seed_starting_at(0) . ');
		SELECT count(*) FROM jobchunk.jc_claim(NULL, 1000)'))[-1],
	$left - 3, 'one that starts at shard 0, and asks for more, keeps all of shard 0\'s');
is( proxy(
		"SELECT count(*) FROM jobchunk.jc_mark_completed(
			(SELECT array_agg(id ORDER BY id) FROM jobchunk.jc_chunks($job[0], 'processing')),
			(SELECT array_agg(lease_token ORDER BY id) FROM jobchunk.jc_chunks($job[0], 'processing')))"
	),
	$left,
	'... which complete');
my (undef, undef, $stderr) =
  $node->psql('proxy', 'SELECT count(*) FROM jobchunk.jc_claim(NULL, 5)');
like($stderr, qr/\[shard1\] PQconnectPoll: .* not currently accepting connections/,
	'with nothing left on shard 0, the claim fails with shard 1\'s error');
$node->safe_psql('postgres', 'ALTER DATABASE shard1 WITH ALLOW_CONNECTIONS true');

# A shard that takes the call and does not answer (here its statement waits
# for a lock; a frozen host or a stalled disk look the same to PL/Proxy,
# which checks its query_timeout only when a connection has news) is not
# passed over: the claim waits for it until the proxy's statement_timeout
# ends it, which cancels the shard's statement too.
my $holder = $node->background_psql('shard1');
$holder->query_safe('BEGIN; LOCK TABLE jobchunk.crawl_jobs IN ACCESS EXCLUSIVE MODE');
my $log_offset = -s $node->logfile;
(undef, undef, $stderr) = $node->psql('proxy',
	"SET statement_timeout = '1s'; SELECT setseed(" . seed_starting_at(1) . ');
	SELECT count(*) FROM jobchunk.jc_claim(NULL, 1)');
like($stderr, qr/ERROR:  canceling statement due to statement timeout/,
	'shard 1 silent: a claim that starts there waits for it until statement_timeout');
ok( $node->poll_query_until('shard1',
		q{SELECT count(*) = 0 FROM pg_stat_activity WHERE wait_event_type = 'Lock'}),
	'... and the shard\'s statement is cancelled with it');
ok($node->log_contains(qr/ERROR:  canceling statement due to user request/, $log_offset),
	'... as the shard\'s backend logs');
$holder->query_safe('ROLLBACK');
$holder->quit;
is(proxy("SELECT total FROM jobchunk.jc_statistics($job[1])"), 300,
	'shard 1 answers again once it is free');

# Least privilege through the proxy: a worker role granted the claim and
# completion functions on the shards, and on the proxy those with
# jc_claim_on(), claims and completes; what it was not granted is refused.
$node->safe_psql('postgres', 'CREATE ROLE crawler LOGIN');
for my $shard (0, 1)
{
	shard($shard, q{
		GRANT USAGE ON SCHEMA jobchunk TO crawler;
		GRANT EXECUTE ON FUNCTION jobchunk.jc_claim(bigint, integer, text, interval),
			jobchunk.jc_mark_completed(bigint, bigint) TO crawler});
}
proxy(q{
	GRANT USAGE ON FOREIGN SERVER jobchunk TO crawler;
	GRANT USAGE ON SCHEMA jobchunk TO crawler;
	GRANT EXECUTE ON FUNCTION jobchunk.jc_next_pending(bigint, text, interval),
		jobchunk.jc_claim(bigint, integer, text, interval),
		jobchunk.jc_claim_on(integer, bigint, integer, text, interval),
		jobchunk.jc_mark_completed(bigint, bigint) TO crawler});
is( proxy(q{SET ROLE crawler;
		SELECT id AS cid, lease_token AS tok FROM jobchunk.jc_next_pending(NULL, 'crawler') \gset
		SELECT status FROM jobchunk.jc_mark_completed(:cid, :tok)}),
	'completed', 'a worker role claims and completes through the proxy');
is(sqlstate('proxy', "SET ROLE crawler; SELECT jobchunk.jc_statistics($job[1])"),
	'42501', '... and is refused what it was not granted');
is(sqlstate('proxy', 'SET ROLE crawler; SELECT jobchunk.jc_check_shards()'),
	'42501', '... such as the check of the partitions');
proxy('GRANT EXECUTE ON FUNCTION jobchunk.jc_check_shards(), jobchunk.jc_shard_on(integer) TO crawler');
is(proxy('SET ROLE crawler; SELECT jobchunk.jc_check_shards()'),
	2, 'granted it, the role checks the partitions, whose jc_shard() anyone may call');
proxy('REVOKE EXECUTE ON FUNCTION jobchunk.jc_check_shards(), jobchunk.jc_shard_on(integer) FROM crawler');
# A dashboard's role, granted the reading functions on the shards and on
# the proxy (with USAGE on the server), lists the jobs of both shards with
# their progress through the proxy, and is refused the rest.
$node->safe_psql('postgres', 'CREATE ROLE dashboard LOGIN');
my $reading = q{GRANT USAGE ON SCHEMA jobchunk TO dashboard;
	GRANT EXECUTE ON FUNCTION jobchunk.jc_jobs(), jobchunk.jc_progress(bigint) TO dashboard};
shard($_, $reading) for (0, 1);
proxy("GRANT USAGE ON FOREIGN SERVER jobchunk TO dashboard; $reading");
my $on_shards = q{SELECT count(*) || ' ' || (SELECT count(*) FROM jobchunk.job_chunks)
	FROM jobchunk.crawl_jobs};
my @on_shard = map { [ split / /, shard($_, $on_shards) ] } (0, 1);
is( proxy(q{SET ROLE dashboard;
		SELECT count(*) || ' jobs on ' || count(DISTINCT j.id >> 48) || ' shards, '
		       || sum(p.total_chunks) || ' chunks'
		FROM jobchunk.jc_jobs() AS j, jobchunk.jc_progress(j.id) AS p}),
	($on_shard[0][0] + $on_shard[1][0]) . ' jobs on 2 shards, '
	  . ($on_shard[0][1] + $on_shard[1][1]) . ' chunks',
	'a reader role lists the jobs of both shards with their progress through the proxy');
is(sqlstate('proxy', "SET ROLE dashboard; SELECT jobchunk.jc_next_pending($job[1])"),
	'42501', '... and is refused a claim');
(undef, undef, $stderr) = $node->psql('proxy', 'SET ROLE crawler; SELECT count(*) FROM jobchunk.jc_jobs()');
like($stderr, qr/\A[^\n]*ERROR:  permission denied for function jc_jobs$/m,
	'a role not granted jc_jobs on the proxy is refused the list there');
# A purge by age without jc_purge_jobs_on() is refused at once, not once
# for each shard; with it (and the shards' jc_purge_jobs), it runs.
proxy('GRANT EXECUTE ON FUNCTION jobchunk.jc_purge_jobs(interval) TO crawler');
my $purge_as_crawler =
  q{SET ROLE crawler; SELECT count(*) FROM jobchunk.jc_purge_jobs('100 years')};
(undef, undef, $stderr) = $node->psql('proxy', $purge_as_crawler);
like($stderr, qr/\A[^\n]*ERROR:  permission denied for function jc_purge_jobs_on\nHINT:  A purge by age calls/,
	'... and a purge by age without jc_purge_jobs_on: one error, no warning');
proxy('GRANT EXECUTE ON FUNCTION jobchunk.jc_purge_jobs_on(integer, interval) TO crawler');
shard($_, 'GRANT EXECUTE ON FUNCTION jobchunk.jc_purge_jobs(interval) TO crawler') for (0, 1);
is(proxy($purge_as_crawler), 0, '... and with it, a purge by age runs');
shard($_, 'REVOKE EXECUTE ON FUNCTION jobchunk.jc_purge_jobs(interval) FROM crawler') for (0, 1);
proxy('REVOKE EXECUTE ON FUNCTION jobchunk.jc_purge_jobs(interval),
	jobchunk.jc_purge_jobs_on(integer, interval) FROM crawler');
# Likewise a new job without jc_create_job_on().
proxy('GRANT EXECUTE ON FUNCTION jobchunk.jc_create_job(text) TO crawler');
(undef, undef, $stderr) =
  $node->psql('proxy', 'SET ROLE crawler; SELECT jobchunk.jc_create_job()');
like($stderr, qr/ERROR:  permission denied for function jc_create_job_on\nHINT:  A new job is made through/,
	'... and a new job without jc_create_job_on');
proxy('REVOKE EXECUTE ON FUNCTION jobchunk.jc_create_job(text) FROM crawler');

# A claim of any job passes over a shard it cannot reach, not one that
# refuses the caller: with jc_claim not granted on shard 1, a claim that
# starts there fails with 42501 although shard 0 has chunks to give; one
# that has claimed shard 0's chunks first returns them, with the refusal
# as a warning.
shard(0, q{SELECT count(*) FROM jobchunk.jc_create_chunks(jobchunk.jc_create_job('granted'), 10)});
shard(1, q{REVOKE EXECUTE ON FUNCTION jobchunk.jc_claim(bigint, integer, text, interval) FROM crawler});
is( sqlstate(
		'proxy', 'SET ROLE crawler; SELECT setseed(' . seed_starting_at(1) . ');
		SELECT count(*) FROM jobchunk.jc_claim(NULL, 1)'),
	'42501', 'a shard that refuses the caller: its error is raised, not passed over');
my ($claimed_first, $warning);
(undef, $claimed_first, $warning) = $node->psql('proxy',
	'SET ROLE crawler; SELECT setseed(' . seed_starting_at(0) . ');
	SELECT count(*) FROM jobchunk.jc_claim(NULL, 20)');
is((split /\n/, $claimed_first)[-1], 10,
	'... and one that claimed on shard 0 first returns those chunks');
like($warning, qr/WARNING:  .*\[shard1\] REMOTE ERROR: permission denied for function jc_claim/,
	'... with shard 1\'s refusal as a warning');
shard(1, q{GRANT EXECUTE ON FUNCTION jobchunk.jc_claim(bigint, integer, text, interval) TO crawler});
shard(0, q{DELETE FROM jobchunk.crawl_jobs WHERE name = 'granted'});

# Retention runs on every shard, and a shard that fails holds up no other:
# with shard 0 refusing connections, shard 1 purges its job, and the call
# fails with shard 0's error, sent first as a warning that names the
# shard; with shard 0 back, the next purge takes shard 0's job.
proxy("SELECT jobchunk.jc_cancel_job($_)") for @job;
$node->safe_psql('postgres', 'ALTER DATABASE shard0 WITH ALLOW_CONNECTIONS false');
(undef, undef, $stderr) =
  $node->psql('proxy', q{SELECT count(*) FROM jobchunk.jc_purge_jobs('0')});
$node->safe_psql('postgres', 'ALTER DATABASE shard0 WITH ALLOW_CONNECTIONS true');
like(
	$stderr,
	qr/WARNING:  shard 0: PL\/Proxy function [^\n]*\[shard0\] PQconnectPoll: .*ERROR:  PL\/Proxy function jobchunk\.jc_purge_jobs_on\(2\): \[shard0\] PQconnectPoll: /s,
	'shard 0 down: purging by age fails with its error');
is(shard(1, 'SELECT count(*) FROM jobchunk.job_chunks'),
	0, '... and shard 1 has purged its job all the same');
is(proxy('SELECT string_agg(job_id::text, \',\' ORDER BY job_id) FROM jobchunk.jc_purge_jobs(\'0\')'),
	$job[0], 'with shard 0 back, the next purge takes its job');
is(shard(0, 'SELECT count(*) FROM jobchunk.job_chunks'), 0, 'its chunks are gone');
(undef, undef, $stderr) = $node->psql('proxy', 'SELECT jobchunk.jc_purge_jobs(NULL)');
like($stderr, qr/\A[^\n]*ERROR:  jobchunk\.jc_purge_jobs_on\(2\): \[shard\d\] REMOTE ERROR: older_than must not be null/,
	'an argument every shard refuses is refused at the first, without a warning');

# Growing from two shards to four moves no row: databases numbered 2 and 3
# join as partitions p2 and p3 (PL/Proxy takes a power of two of them, so
# both in one statement); a job made before goes on being found on its
# shard, and claims of any job reach the new shards.
my $kept = shard(1, q{SELECT jobchunk.jc_create_job('made on two shards')});
shard(1, "SELECT count(*) FROM jobchunk.jc_create_chunks($kept, 5)");
for my $shard (2, 3)
{
	$node->safe_psql('postgres', "CREATE DATABASE shard$shard");
	shard(
		$shard, qq{
		CREATE EXTENSION jobchunk;
		SELECT jobchunk.jc_set_shard($shard);
		ALTER DATABASE shard$shard SET jobchunk.chunk_size = 1;
	});
}
# The new partitions are checked in the transaction that adds them.
sub grow
{
	my @new = @_;
	return qq{BEGIN;
	ALTER SERVER jobchunk OPTIONS (
		ADD p2 'dbname=$new[0] host=$host port=$port',
		ADD p3 'dbname=$new[1] host=$host port=$port');
	SELECT jobchunk.jc_check_shards();
	COMMIT;};
}
(undef, undef, $stderr) = $node->psql('proxy', grow('shard3', 'shard2'));
like($stderr, qr/DETAIL:  In server jobchunk, partition 2 is shard 3, partition 3 is shard 2\./,
	'new partitions listed out of order are refused in the transaction that adds them');
is(proxy('SELECT jobchunk.jc_shards()'), 2, '... which leaves the server as it was');
is(proxy(grow('shard2', 'shard3')), 4, 'in order, they are added and checked');
is(proxy('SELECT jobchunk.jc_shards()'), 4, 'the cluster has four shards');
is(proxy("SELECT total FROM jobchunk.jc_statistics($kept)"),
	5, 'a job made on two shards is found on its shard');
my $added = shard(3, q{SELECT jobchunk.jc_create_job('made on four shards')});
shard(3, "SELECT count(*) FROM jobchunk.jc_create_chunks($added, 7)");
is(proxy("SELECT total FROM jobchunk.jc_statistics($added)"),
	7, 'a job of shard 3 is found there');
is( proxy(
		q{SELECT string_agg(DISTINCT (job_id >> 48)::text, ',') || ': ' || count(*)
		FROM jobchunk.jc_claim(NULL, 100)}),
	'1,3: 12',
	'claims of any job take the chunks of old and new shards');

# A shard's number is set before its first id, under READ COMMITTED; it
# cannot be changed once ids were used, even with no job left, and setting
# it again to the shard the database is changes nothing.
$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('fresh', 'CREATE EXTENSION jobchunk');
is(sqlstate('fresh', 'BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT jobchunk.jc_set_shard(1)'),
	'0A000', 'jc_set_shard under REPEATABLE READ: refused');
is(sqlstate('fresh', 'SELECT jobchunk.jc_set_shard(1); SELECT jobchunk.jc_set_shard(2)'),
	'00000', 'before the first job the number can be set again');
$node->safe_psql('fresh', 'BEGIN; SELECT jobchunk.jc_set_shard(3); ROLLBACK');
is($node->safe_psql('fresh', 'SELECT jobchunk.jc_create_job() >> 48'),
	'3', 'the last one counts, rolled back or not (as for setval)');
is(sqlstate('shard1', 'SELECT jobchunk.jc_set_shard(2)'),
	'55000', 'shard 1 cannot be numbered as shard 2');
my $last_job = shard(1, 'SELECT last_value FROM jobchunk.crawl_jobs_id_seq');
is(sqlstate('shard1', 'SELECT jobchunk.jc_set_shard(1)'),
	'00000', 'nor refused as shard 1, which it is');
is(shard(1, 'SELECT jobchunk.jc_create_job()'),
	$last_job + 1, 'and its ids go on where they were');
is(sqlstate('fresh', 'SELECT jobchunk.jc_set_shard(3)'),
	'00000', 'likewise for a shard that has a job and no chunk yet');
# TRUNCATE ... RESTART IDENTITY of the chunks puts their sequence back at
# shard 0's ids; numbering the shard again moves it back to its own.
$node->safe_psql(
	'fresh', q{
	SELECT count(*) FROM jobchunk.jc_create_chunks(jobchunk.jc_create_job('before'), 2);
	TRUNCATE jobchunk.job_chunks RESTART IDENTITY CASCADE});
is(sqlstate('fresh', 'SELECT jobchunk.jc_set_shard(3)'),
	'00000', 'after a TRUNCATE ... RESTART IDENTITY the shard is numbered again');
is( $node->safe_psql('fresh',
		q{SELECT min(id) >> 48 FROM jobchunk.jc_create_chunks(jobchunk.jc_create_job('after'), 2)}),
	'3', 'and its new chunks have its ids');
# A sequence that stands further on in the shard's range stays there.
$node->safe_psql('fresh',
	q{SELECT setval('jobchunk.crawl_jobs_id_seq', (3::bigint << 48) + 1000, false)});
$node->safe_psql('fresh', 'SELECT jobchunk.jc_set_shard(3)');
is($node->safe_psql('fresh', 'SELECT jobchunk.jc_create_job() - (3::bigint << 48)'),
	'1000', 'numbering it again moves back no sequence set further on in its range');
is(sqlstate('postgres', 'CREATE EXTENSION jobchunk; SELECT jobchunk.jc_create_job(); SELECT jobchunk.jc_set_shard(0)'),
	'00000', 'and for a database never numbered, which is shard 0');
is($node->safe_psql('postgres', 'SELECT jobchunk.jc_shard()'), 0, 'whose number is 0');
# Sequences left apart (as by a crash between jc_set_shard's two setvals):
# the number is refused until it is set again.
$node->safe_psql('fresh',
	q{SELECT setval('jobchunk.job_chunks_id_seq', (4::bigint << 48) + 1, false)});
(undef, undef, $stderr) = $node->psql('fresh', 'SELECT jobchunk.jc_shard()');
like($stderr, qr/ERROR:  jobs and chunks of this database are numbered for different shards\nDETAIL:  Its jobs are numbered for shard 3, its chunks for shard 4\./,
	'a database whose sequences are apart has no shard number');
like($stderr, qr/HINT:  Call jobchunk\.jc_set_shard\(k\) again with the shard whose ids it has handed out/,
	'... with how to mend it');
$node->safe_psql('fresh', 'SELECT jobchunk.jc_set_shard(3)');
is($node->safe_psql('fresh', 'SELECT jobchunk.jc_shard()'), 3,
	'jc_set_shard(3) moves the one left behind, and the number is 3');
# A row inserted with an id of another shard would not be found through the
# proxy: the number is refused while the database holds one.
$node->safe_psql('fresh',
	q{INSERT INTO jobchunk.crawl_jobs (id, name) VALUES ((5::bigint << 48) + 7, 'moved in')});
(undef, undef, $stderr) = $node->psql('fresh', 'SELECT jobchunk.jc_shard()');
like($stderr, qr/ERROR:  this database holds ids of shard 5, not of its own shard 3\nDETAIL:  Its sequences number jobs and chunks for shard 3, and it holds jobs of shard 5\./,
	'a database that holds a job of another shard has no shard number');
$node->safe_psql('fresh', q{DELETE FROM jobchunk.crawl_jobs WHERE name = 'moved in'});

# A job made through a partition whose database is numbered for another
# shard (here partition 1 is database fresh, shard 3) is refused: the
# calls for it would go elsewhere.
create_proxy('proxy_mixed', 'shard0', 'fresh');
(undef, undef, $stderr) = $node->psql('proxy_mixed',
	'SELECT setseed(' . seed_starting_at(1) . q{); SELECT jobchunk.jc_create_job('misrouted')});
like($stderr, qr/ERROR:  partition 1 of cluster "jobchunk" numbers its jobs as shard 3/,
	'a job made through a partition numbered for another shard is refused');
(undef, undef, $stderr) = $node->psql('proxy_mixed', 'SELECT jobchunk.jc_check_shards()');
like($stderr, qr/ERROR:  the partitions of cluster "jobchunk" are not the shards of their numbers\nDETAIL:  In server jobchunk, partition 1 is shard 3\./,
	'the check of the partitions names the one that is another shard');
create_proxy('proxy_swapped', 'shard1', 'shard0');
(undef, undef, $stderr) = $node->psql('proxy_swapped', 'SELECT jobchunk.jc_check_shards()');
like($stderr, qr/DETAIL:  In server jobchunk, partition 0 is shard 1, partition 1 is shard 0\./,
	'... and each of two partitions listed the wrong way round');
# A partition whose jobchunk has no jc_shard() (1.9, which the library
# runs as well) is named, with what to do.
$node->safe_psql('postgres', 'CREATE DATABASE shard_at_1_9');
$node->safe_psql('shard_at_1_9', q{CREATE EXTENSION jobchunk VERSION '1.9'});
create_proxy('proxy_old_shard', 'shard0', 'shard_at_1_9');
(undef, undef, $stderr) = $node->psql('proxy_old_shard', 'SELECT jobchunk.jc_check_shards()');
like($stderr, qr/ERROR:  partition 1 of cluster "jobchunk": .*function jobchunk\.jc_shard\(\) does not exist\nDETAIL:  The partitions after it were not checked\.\nHINT:  Update the database of partition 1 to jobchunk 1\.10 or later\./,
	'a partition without jc_shard is named, with its error and what to do');
is(sqlstate('proxy_old_shard', 'SELECT count(*) FROM jobchunk.jc_jobs()'),
	'42883', 'the jobs are not listed while a shard has no jc_jobs');
create_proxy('proxy_unreachable', 'shard0', 'no_such_database');
(undef, undef, $stderr) = $node->psql('proxy_unreachable', 'SELECT jobchunk.jc_check_shards()');
like($stderr, qr/ERROR:  partition 1 of cluster "jobchunk": [^\n]*\[no_such_database\][^\n]*does not exist\nDETAIL:  The partitions after it were not checked\.\nHINT:  Mend what the error names, then check again\./,
	'so is a partition that cannot be reached');
$node->safe_psql('proxy_unreachable', 'DROP USER MAPPING FOR PUBLIC SERVER jobchunk');
(undef, undef, $stderr) = $node->psql('proxy_unreachable', 'SELECT jobchunk.jc_check_shards()');
like($stderr, qr/ERROR:  partition 0 of cluster "jobchunk": user mapping not found[^\n]*\n.*HINT:  Check as a role that has a user mapping for server jobchunk/s,
	'and a check by a role without a user mapping says what it needs');
is( (split /\n/, $node->safe_psql('proxy_mixed',
			'SELECT setseed(' . seed_starting_at(0) . q{); SELECT jobchunk.jc_create_job('routed') >> 48}))[-1],
	0, 'one made through partition 0, shard 0, is not');

# The proxy has every function of jobchunk, with the same arguments and
# result, but the shard's own (jc_set_shard, jc_shard, and the check
# constraint's), and no other but its routing helpers and the check of the
# partitions.
my $functions = q{
	SELECT string_agg(p.oid::regprocedure || ' -> ' || CASE WHEN p.proretset THEN 'SETOF ' ELSE '' END
	                  || p.prorettype::regtype, E'\n' ORDER BY p.oid::regprocedure::text)
	FROM pg_proc AS p WHERE p.pronamespace = 'jobchunk'::regnamespace
	AND p.proname NOT IN ('jc_set_shard', 'jc_shard', 'jc_chunk_is_valid', 'jc_claim_on',
	'jc_purge_jobs_on', 'jc_create_job_on', 'jc_shard_of', 'jc_shards', 'jc_shard_on',
	'jc_check_shards')};
is(proxy($functions), shard(0, $functions), 'the proxy has every function of jobchunk');

# An install of 1.0 updates to 1.1, 1.2, 1.3, 1.4, 1.5, 1.6 and 1.7, and
# goes back to 1.6 and to 1.5.  (A new install of 1.7 runs the same update
# scripts: the tests above run on it.)  The
# update to 1.5, which makes jc_shard_of() STABLE, refuses to run while a
# generated column or an index uses it.
$node->safe_psql('postgres', 'CREATE DATABASE proxy_old');
$node->safe_psql(
	'proxy_old', q{
	CREATE EXTENSION jobchunk_proxy VERSION '1.0' CASCADE;
	CREATE TABLE my_jobs (id bigint, shard integer GENERATED ALWAYS AS (jobchunk.jc_shard_of(id)) STORED);
	CREATE TABLE my_chunks (id bigint);
	CREATE INDEX ON my_chunks (jobchunk.jc_shard_of(id))});
my $version = q{SELECT extversion FROM pg_extension WHERE extname = 'jobchunk_proxy'};
for my $user (qw(my_jobs my_chunks))
{
	is(sqlstate('proxy_old', 'ALTER EXTENSION jobchunk_proxy UPDATE'),
		'55000', "the update to 1.5 is refused while $user uses jc_shard_of");
	is($node->safe_psql('proxy_old', $version), '1.0', '... as a whole');
	$node->safe_psql('proxy_old', "DROP TABLE $user");
}
$node->safe_psql('proxy_old', 'ALTER EXTENSION jobchunk_proxy UPDATE');
is($node->safe_psql('proxy_old', $version), '1.7', 'jobchunk_proxy 1.0 updates to 1.7');
my $with_job = q{SELECT extversion || ' ' || (to_regprocedure('jobchunk.jc_jobs()') IS NOT NULL)
	|| ' ' || (to_regprocedure('jobchunk.jc_job(bigint)') IS NOT NULL)
	|| ' ' || (to_regprocedure('jobchunk.jc_check_shards()') IS NOT NULL)
	|| ' ' || (to_regprocedure('jobchunk.jc_shard_on(integer)') IS NOT NULL)
	FROM pg_extension WHERE extname = 'jobchunk_proxy'};
$node->safe_psql('proxy_old', q{ALTER EXTENSION jobchunk_proxy UPDATE TO '1.6'});
is($node->safe_psql('proxy_old', $with_job), '1.6 false true true true',
	'it goes back to 1.6, without jc_jobs');
$node->safe_psql('proxy_old', q{ALTER EXTENSION jobchunk_proxy UPDATE TO '1.5'});
is($node->safe_psql('proxy_old', $with_job), '1.5 false false false false',
	'and to 1.5, without jc_job, jc_check_shards and jc_shard_on');
$node->safe_psql('proxy_old', 'ALTER EXTENSION jobchunk_proxy UPDATE');
is($node->safe_psql('proxy_old', $with_job), '1.7 true true true true', 'and forward to 1.7 again');

# Before its shards are defined, a claim of any job says so.
(undef, undef, $stderr) = $node->psql('proxy_old',
	"\\set VERBOSITY verbose\nSELECT jobchunk.jc_claim(NULL, 1)");
like($stderr, qr/ERROR:  42704: PL\/Proxy cluster "jobchunk" has no shards/,
	'a claim of any job on a proxy without shards: 42704');

# jobchunk_proxy is refused in a shard's database, and jobchunk in the
# proxy's, rather than by the check of their schema, whose hint would be to
# drop it.
my (undef, undef, $wrong) = $node->psql('shard0', 'CREATE EXTENSION jobchunk_proxy CASCADE');
like($wrong, qr/ERROR:  extension jobchunk is installed in this database/,
	'jobchunk_proxy in a shard\'s database: refused');
(undef, undef, $wrong) = $node->psql('proxy', 'CREATE EXTENSION jobchunk');
like($wrong, qr/ERROR:  extension jobchunk_proxy is installed in this database/,
	'jobchunk in the proxy\'s: refused');

# The example worker, behind the proxy, keeps trying to complete its batch
# while the job's shard cannot be reached (PL/Proxy's XX000), then
# completes it: no chunk is worked on twice.
my $far = shard(0, q{SELECT jobchunk.jc_create_job('worker behind the proxy')});
shard(0, "SELECT count(*) FROM jobchunk.jc_create_chunks($far, 3)");
my ($out, $err) = ('', '');
my $worker = IPC::Run::start(
	[
		'python3', 'examples/worker.py', '--dsn', $node->connstr('proxy'),
		'--job', $far, '--name', 'far', '--until-done', '--batch', '3',
		'--lease', '3600', '--work-seconds', '1', '--verbose'
	],
	'>', \$out, '2>', \$err,
	IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
$worker->pump until $err =~ /far: working on chunk/;
$node->safe_psql('postgres', 'ALTER DATABASE shard0 WITH ALLOW_CONNECTIONS false');
$node->safe_psql('postgres',
	q{SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'shard0'});
$worker->pump until $err =~ /trying again/;
like($err, qr/far: PL\/Proxy function jobchunk\.jc_mark_completed\(2\): \[shard0\]/,
	'a worker behind the proxy tries again when its shard cannot be reached');
$node->safe_psql('postgres', 'ALTER DATABASE shard0 WITH ALLOW_CONNECTIONS true');
ok($worker->finish, 'and once it can, finishes the job, with status 0') or diag($err);
like($out, qr/far: completed 3 chunks, released 0/, 'completing the 3 chunks of its claim');
is( shard(0,
		"SELECT string_agg(status || ' ' || retry_count, ',') FROM jobchunk.job_chunks WHERE job_id = $far"
	),
	'completed 0,completed 0,completed 0',
	'none of them taken back or claimed again');
# A worker whose first call cannot reach the shard fails at once, as for a
# wrong connection string.
$node->safe_psql('postgres', 'ALTER DATABASE shard0 WITH ALLOW_CONNECTIONS false');
($out, $err) = ('', '');
ok( !IPC::Run::run(
		[ 'python3', 'examples/worker.py', '--dsn', $node->connstr('proxy'), '--job', $far ],
		'>', \$out, '2>', \$err,
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default)),
	'a worker whose first call cannot reach its shard fails');
like($err, qr/PL\/Proxy function jobchunk\.jc_claim_on\(5\): \[shard0\]/,
	'with PL/Proxy\'s error, not trying again');
$node->safe_psql('postgres', 'ALTER DATABASE shard0 WITH ALLOW_CONNECTIONS true');

# Told to listen on its job's shard (--listen), a worker behind the proxy is
# woken by the shard's NOTIFY: chunks made while it waits are worked on at
# once, not after its --idle of an hour.
my $woken = shard(1, q{SELECT jobchunk.jc_create_job('worker woken by its shard')});
($out, $err) = ('', '');
$worker = IPC::Run::start(
	[
		'python3', 'examples/worker.py', '--dsn', $node->connstr('proxy'),
		'--listen', $node->connstr('shard1'), '--job', $woken, '--name', 'woken',
		'--until-done', '--idle', '3600'
	],
	'>', \$out, '2>', \$err,
	IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
# It waits once its last call, whether the job is complete, has returned.
$node->poll_query_until('proxy', q{SELECT count(*) = 1 FROM pg_stat_activity
	WHERE datname = 'proxy' AND state = 'idle' AND query LIKE '%jc_progress%'})
  or die 'the worker did not come to wait';
proxy("SELECT count(*) FROM jobchunk.jc_create_chunks($woken, 2)");
# Without the NOTIFY it would wait out the harness's timeout: then stop it.
ok(eval { $worker->finish }, 'a worker listening on its job\'s shard is woken by its NOTIFY')
  or do { diag($@ || $err); $worker->kill_kill };
like($out, qr/woken: completed 2 chunks, released 0/, '... and completes the chunks made meanwhile');

$node->stop;
done_testing();
