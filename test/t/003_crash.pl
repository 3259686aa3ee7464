# Crash safety.  Eight clients claim and complete chunks, each logging its
# completion in the same transaction and printing the chunk id only once
# its COMMIT has returned.  The server is stopped with an immediate
# shutdown (a crash: no checkpoint, recovery from WAL at the next start) at
# a random moment, restarted, and this is repeated.  After every restart,
# every completion a client saw acknowledged is there, completed chunks and
# logged completions match one to one, the statistics equal the table, and
# the indexes agree with the tables.
# Finally the job is drained (the crashed clients' chunks come back when
# their one-second leases run out): every chunk is completed exactly once.
#
# The crash moments come from a seed: set JOBCHUNK_SEED to replay one.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use JobchunkTest;
use IPC::Run;
use Time::HiRes qw(usleep);

# A crash comes at most 0.6 s after the workload is under way, long before
# a client has made its 1000 claims; 30,000 chunks are more than the crash
# rounds can complete.
my $chunks = 30_000;
my $clients = 8;
my $crashes = 6;
my $max_delay_us = 600_000;

my $seed = $ENV{JOBCHUNK_SEED} // time();
note "seed $seed (set JOBCHUNK_SEED=$seed to replay)";
srand($seed);

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
$node->start;

# Job 1 of $chunks chunks; complete() marks a chunk completed with the
# claim's token and logs the completion in completions, in one transaction.
create_drain_job($node, 'crash', $chunks);
$node->safe_psql('postgres', 'CREATE EXTENSION amcheck');

# A client claims a chunk and completes it in a transaction of its own;
# only after that COMMIT has returned does it print "done <chunk id>".  It
# stops at the first error (a crash) and when nothing is left to claim.
my $claim_and_complete = q{
SELECT count(*) > 0 AS got, max(id) AS cid, max(lease_token) AS tok
FROM jobchunk.jc_next_pending(1, 'client', interval '1 second') \gset
\if :got
BEGIN;
SELECT complete(:cid, :tok) AS ok \gset
COMMIT;
\if :ok
\echo done :cid
\endif
\else
\q
\endif
};
my %client_script;
foreach my $claims (1000, 4000)
{
	$client_script{$claims} = "$PostgreSQL::Test::Utils::tmp_check/003_client_$claims.sql";
	PostgreSQL::Test::Utils::append_to_file($client_script{$claims}, $claim_and_complete x $claims);
}

# Start the clients, each making up to $claims claims and writing its
# acknowledgements to a file.
sub start_clients
{
	my ($name, $claims) = @_;
	my @clients;

	foreach my $i (1 .. $clients)
	{
		my $out = "$PostgreSQL::Test::Utils::tmp_check/003_${name}_$i.out";
		my $handle = IPC::Run::start(
			[   'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1',
				'-d', $node->connstr('postgres'), '-f', $client_script{$claims} ],
			'>' => $out,
			'2>' => "$out.err");
		push @clients, { handle => $handle, out => $out };
	}
	return @clients;
}

# Wait for the clients to end; return the chunk ids they saw acknowledged
# and how many of them ended with an error.
sub finish_clients
{
	my @acked;
	my $failed = 0;

	foreach my $client (@_)
	{
		$client->{handle}->finish or $failed++;
		push @acked, slurp_file($client->{out}) =~ /^done (\d+)$/mg;
	}
	return (\@acked, $failed);
}

# Every acknowledged completion is in the table and in the log.
sub lost_completions
{
	my ($acked) = @_;

	return 0 unless @$acked;
	my $ids = join(',', @$acked);
	return $node->safe_psql(
		'postgres', qq{
		SELECT count(*)
		FROM unnest('{$ids}'::bigint[]) AS a(id)
		LEFT JOIN jobchunk.job_chunks AS c ON c.id = a.id AND c.status = 'completed'
		LEFT JOIN (SELECT DISTINCT chunk_id FROM completions) AS l ON l.chunk_id = a.id
		WHERE c.id IS NULL OR l.chunk_id IS NULL});
}

# After a crash and restart: the table, the log and the statistics agree.
my %consistency = (
	'each chunk in one valid status, leases only while processing' => q{
		SELECT count(*) FROM jobchunk.job_chunks
		WHERE status IS NULL
		   OR status NOT IN ('pending', 'processing', 'completed', 'failed')
		   OR (status = 'processing') <> (lease_expires_at IS NOT NULL)},
	'completed chunks and logged completions match one to one' => q{
		SELECT count(*)
		FROM (SELECT id, lease_token FROM jobchunk.job_chunks WHERE status = 'completed') AS c
		FULL JOIN completions AS l ON l.chunk_id = c.id AND l.lease_token = c.lease_token
		WHERE c.id IS NULL OR l.chunk_id IS NULL},
	'the statistics equal the table' => $JOBS_WHOSE_STATISTICS_DIFFER,
	'the indexes of jobchunk\'s tables hold every row (amcheck)' => q{
		WITH indexes AS (
			SELECT i.indexrelid FROM pg_index AS i JOIN pg_class AS t ON t.oid = i.indrelid
			WHERE t.relnamespace = 'jobchunk'::regnamespace)
		SELECT count(*) - (SELECT count(*) FROM indexes)
		FROM indexes, LATERAL bt_index_check(indexrelid, true) AS checked},);

sub check_consistency
{
	my ($when) = @_;

	foreach my $name (sort keys %consistency)
	{
		is($node->safe_psql('postgres', $consistency{$name}), '0', "$when: $name");
	}
	return;
}

my @acked;
foreach my $crash (1 .. $crashes)
{
	my $completed_before = $node->safe_psql('postgres', 'SELECT count(*) FROM completions');
	my @clients = start_clients("crash$crash", 1000);

	# Once the workload is under way, crash at a random moment.
	$node->poll_query_until('postgres',
		"SELECT count(*) > $completed_before + $clients FROM completions")
	  or die 'the clients completed nothing';
	my $delay = int(rand($max_delay_us));
	note "crash $crash after ${delay}us";
	usleep($delay);
	$node->stop('immediate');

	my ($acked_now, $cut_off) = finish_clients(@clients);
	cmp_ok(scalar(@$acked_now), '>', 0, "crash $crash: clients saw completions acknowledged");
	cmp_ok($cut_off, '>', 0, "crash $crash: the crash cut clients off mid-work");
	push @acked, @$acked_now;

	$node->start;
	my $acked_so_far = scalar(@acked);
	is(lost_completions(\@acked),
		0, "crash $crash: none of the $acked_so_far acknowledged completions is lost");
	check_consistency("crash $crash");
}

# Drain the job: clients claim until nothing is claimable; then wait for the
# leases of the crashed clients' chunks to run out, and go again.
my $round = 0;
while ($node->safe_psql('postgres', 'SELECT jobchunk.jc_is_complete(1)') ne 't')
{
	$round++;
	last if $round > 20;
	$node->poll_query_until(
		'postgres', q{
		SELECT count(*) > 0 FROM jobchunk.job_chunks
		WHERE status = 'pending' OR lease_expires_at < now()}) or die 'no chunk became claimable';
	my ($acked_now, $failed) = finish_clients(start_clients("drain$round", 4000));
	is($failed, 0, "drain round $round: no client failed");
	push @acked, @$acked_now;
}
is(lost_completions(\@acked), 0, 'no acknowledged completion is lost in the end');
check_consistency('drained');

is($node->safe_psql('postgres', 'SELECT jobchunk.jc_is_complete(1)'),
	't', "the job completes, in $round drain rounds");
is( $node->safe_psql(
		'postgres', q{SELECT count(*) || '/' || count(DISTINCT chunk_id) FROM completions}),
	"$chunks/$chunks",
	'every chunk was completed exactly once');
my %distinct_acked = map { $_ => 1 } @acked;
is(scalar(keys %distinct_acked), scalar(@acked), 'no chunk was acknowledged twice');
is( $node->safe_psql(
		'postgres', q{
	SELECT total || '/' || completed || '/' || success_rate || '/' || completion_percentage
	FROM jobchunk.jc_statistics(1)}),
	"$chunks/$chunks/100.00/100.00",
	'the statistics show the job completed');
cmp_ok(
	$node->safe_psql('postgres', q{SELECT count(*) FROM jobchunk.job_chunks WHERE retry_count > 0}),
	'>', 0, 'chunks held by crashed clients were taken back');

$node->stop;
done_testing();
