# jc_create_chunks of a million chunks, cancelled part-way by a statement
# timeout and by a cancel request, fails with 57014 and leaves no partial
# set: the job has no chunk, its statistics say 0, and its row is as it was.
# The same call then succeeds with exactly 1,000,000 chunks.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $chunks = 1_000_000;
my $create = "SELECT count(*) FROM jobchunk.jc_create_chunks(1, $chunks)";

my $node = PostgreSQL::Test::Cluster->new('cancel_create');
$node->init;
$node->start;

$node->safe_psql(
	'postgres', q{
	CREATE EXTENSION jobchunk;
	ALTER DATABASE postgres SET jobchunk.chunk_size = 1;
	INSERT INTO jobchunk.crawl_jobs (id, name) VALUES (1, 'a million chunks');
});

# The job's row, updated_at included, as text.
my $job_row = 'SELECT j::text FROM jobchunk.crawl_jobs j WHERE id = 1';
my $job_before = $node->safe_psql('postgres', $job_row);

# How far the chunk ids have gone: nextval is not undone by a rollback, so
# this shows that a cancelled call had started inserting.
my $ids_used = q{SELECT CASE WHEN is_called THEN last_value ELSE 0 END
	FROM jobchunk.job_chunks_id_seq};

# Nothing of the cancelled call is left.
sub check_nothing_left
{
	my ($how) = @_;

	is( $node->safe_psql(
			'postgres', q{
		SELECT (SELECT count(*) FROM jobchunk.job_chunks WHERE job_id = 1)
		       || '/' || s.total || '/' || s.pending || '/' || s.completion_percentage
		FROM jobchunk.jc_statistics(1) s}),
		'0/0/0/0.00',
		"$how: no chunk left, and the statistics say so");
	is($node->safe_psql('postgres', $job_row), $job_before, "$how: the job's row is unchanged");
	return;
}

# (a) statement_timeout, in a session that has already loaded jobchunk, so
# that the second is spent creating chunks (all of them take many seconds).
my (undef, $stdout, $stderr) = $node->psql(
	'postgres', qq{
	SELECT FROM jobchunk.jc_chunks(1);
	SET statement_timeout = '1s';
	$create;
	\\echo sqlstate :LAST_ERROR_SQLSTATE},
	on_error_stop => 0);
is($stdout, 'sqlstate 57014', 'statement_timeout: the creation fails with 57014');
like(
	$stderr,
	qr/canceling statement due to statement timeout/,
	'statement_timeout: the message says why');
my $ids_after_timeout = $node->safe_psql('postgres', $ids_used);
cmp_ok($ids_after_timeout, '>', 0, 'statement_timeout: the call had started inserting');
check_nothing_left('statement_timeout');

# (b) a cancel request while it runs, from another session, once the call
# is seen running and inserting.
my $session = $node->background_psql('postgres', on_error_stop => 0);
my $pid = $session->query_safe('SELECT pg_backend_pid()');
$session->query_until(qr/started/, qq{\\echo started\n$create;\n});
$node->poll_query_until(
	'postgres', qq{
	SELECT count(*) = 1 AND ($ids_used) > $ids_after_timeout
	FROM pg_stat_activity
	WHERE pid = $pid AND state = 'active' AND query LIKE '%jc_create_chunks%'}
) or die 'the creation was never seen running';
is($node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)"), 't', 'cancel request sent');
my ($out) = $session->query('\echo sqlstate :LAST_ERROR_SQLSTATE');
like($out, qr/^sqlstate 57014$/m, 'cancel: SQLSTATE 57014');
like(
	$session->{stderr},
	qr/canceling statement due to user request/,
	'cancel: the message says why');
$session->quit;
check_nothing_left('cancel');

# The same call now makes the whole set, once.
is($node->safe_psql('postgres', $create), $chunks, 'the same call then succeeds');
(undef, $stdout) = $node->psql(
	'postgres', qq{
	$create;
	\\echo sqlstate :LAST_ERROR_SQLSTATE},
	on_error_stop => 0);
is($stdout, 'sqlstate 55000', 'a second creation is refused with 55000');
is( $node->safe_psql(
		'postgres', q{
	SELECT count(*) || '/' || count(DISTINCT chunk_index) || '/' || min(chunk_index)
	       || '/' || max(chunk_index) || '/' || count(*) FILTER (WHERE status = 'pending')
	FROM jobchunk.job_chunks WHERE job_id = 1}),
	"$chunks/$chunks/0/" . ($chunks - 1) . "/$chunks",
	'exactly one pending chunk per index');
is( $node->safe_psql(
		'postgres', q{
	SELECT total || '/' || pending FROM jobchunk.jc_statistics(1)}),
	"$chunks/$chunks",
	'the statistics count a million pending chunks');
is( $node->safe_psql(
		'postgres', q{
	SELECT image_range::text FROM jobchunk.job_chunks WHERE job_id = 1 AND chunk_index = 999999}),
	'{"end": 999999, "start": 999999}',
	'the last chunk covers the last image');

$node->stop;
done_testing();
