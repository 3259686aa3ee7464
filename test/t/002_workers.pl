# Many workers drain one job while some abandon their chunks and others die
# mid-claim.  With a short lease every chunk ends completed exactly once,
# stale completions are refused, and the statistics equal the table.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use JobchunkTest;

my $chunks = 10_000;
my $clients = 16;

my $node = PostgreSQL::Test::Cluster->new('workers');
$node->init;
$node->start;

# Job 1 of $chunks chunks; complete() logs each completion in completions.
create_drain_job($node, 'drain', $chunks);

# Five workers die holding five chunks each: three inside an open
# transaction, two after their claim committed.
my @dying;
foreach my $i (1 .. 5)
{
	my $session = $node->background_psql('postgres');
	my $pid = $session->query_safe('SELECT pg_backend_pid()');
	$session->query_safe('BEGIN') if $i <= 3;
	$session->query_safe(
		"SELECT count(*) FROM jobchunk.jc_claim(1, 5, 'dying-$i', interval '1 second')");
	push @dying, [ $session, $pid ];
}
is($node->safe_psql('postgres', q{SELECT processing FROM jobchunk.jc_statistics(1)}),
	'10', 'only the committed claims are visible');

my $pids = join(',', map { $_->[1] } @dying);
$node->safe_psql('postgres', "SELECT pg_terminate_backend(pid) FROM unnest(ARRAY[$pids]) AS pid");
$node->poll_query_until('postgres',
	"SELECT count(*) = 0 FROM pg_stat_activity WHERE pid IN ($pids)")
  or die "the dying workers' backends did not end";
eval { $_->[0]->quit } foreach @dying;

is( $node->safe_psql(
		'postgres', q{SELECT pending || '/' || processing FROM jobchunk.jc_statistics(1)}),
	($chunks - 10) . '/10',
	'uncommitted claims of terminated workers are undone; committed ones keep their lease');

# The workers: most claim and complete with their token; one in ten
# abandons a chunk it gets for the first time and never completes it.
my $worker = q{
SELECT coalesce(max(id), 0) AS cid, coalesce(max(lease_token), 0) AS tok
FROM jobchunk.jc_next_pending(1, 'worker', interval '1 second') \gset
\if :cid
SELECT complete(:cid, :tok);
\endif
};
my $abandoner = q{
SELECT coalesce(max(id), 0) AS cid, coalesce(max(lease_token), 0) AS tok,
       coalesce(max(retry_count), 0) AS retries
FROM jobchunk.jc_next_pending(1, 'abandoner', interval '1 second') \gset
\if :retries > 0
SELECT complete(:cid, :tok);
\endif
};

my $round = 0;
while ($node->safe_psql('postgres', 'SELECT jobchunk.jc_is_complete(1)') ne 't')
{
	$round++;
	last if $round > 40;

	# Wait until there is something to claim: pending chunks, or leases
	# that have run out.
	$node->poll_query_until('postgres',
		q{SELECT count(*) > 0 FROM jobchunk.job_chunks
		  WHERE status = 'pending' OR lease_expires_at < now()})
	  or die 'no chunk became claimable';

	$node->pgbench(
		"--no-vacuum --client=$clients --jobs=2 --transactions=250",
		0,
		[qr{processed: 4000/4000}],
		[],
		"round $round of $clients workers",
		{
			"002_worker_$round.sql\@9" => $worker,
			"002_abandoner_$round.sql\@1" => $abandoner
		});
}

is($node->safe_psql('postgres', 'SELECT jobchunk.jc_is_complete(1)'),
	't', "the job completes, in $round rounds");
is( $node->safe_psql(
		'postgres', q{SELECT count(*) || '/' || count(DISTINCT chunk_id) FROM completions}),
	"$chunks/$chunks",
	'every chunk was completed exactly once');
is( $node->safe_psql(
		'postgres', q{
	SELECT count(*) FROM jobchunk.job_chunks c JOIN completions l ON l.chunk_id = c.id
	WHERE c.status = 'completed' AND c.lease_token = l.lease_token}),
	$chunks,
	'each completion was made with the chunk\'s last token');
cmp_ok(
	$node->safe_psql(
		'postgres', q{SELECT count(*) FROM jobchunk.job_chunks WHERE retry_count > 0}),
	'>=', 10,
	'abandoned chunks and the dead workers\' chunks were taken back');
is( $node->safe_psql(
		'postgres', q{
	SELECT s.total = count(*)
	   AND s.completed = count(*) FILTER (WHERE c.status = 'completed')
	   AND s.pending + s.processing + s.failed = count(*) FILTER (WHERE c.status <> 'completed')
	FROM jobchunk.jc_statistics(1) AS s, jobchunk.job_chunks AS c
	GROUP BY s.total, s.completed, s.pending, s.processing, s.failed}),
	't',
	'the statistics equal the table');
is( $node->safe_psql(
		'postgres', q{SELECT total || '/' || completed || '/' || success_rate FROM jobchunk.jc_statistics(1)}),
	"$chunks/$chunks/100.00",
	'all completed');

$node->stop;
done_testing();
