# Two-phase commit.  A transaction of jobchunk calls can be prepared when
# jobchunk.notify is off (a NOTIFY cannot be prepared, which is what it
# refuses with it on); the prepared transaction keeps its chunks and counts
# locked until COMMIT PREPARED; the session that prepared it goes on
# claiming without waiting for it; and the counts are exact afterwards.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('prepared');
$node->init;
$node->append_conf('postgresql.conf', 'max_prepared_transactions = 4');
$node->start;

$node->safe_psql(
	'postgres', q{
	CREATE EXTENSION jobchunk;
	SELECT jobchunk.jc_create_job('two-phase');
	SET jobchunk.chunk_size = 1;
	SELECT count(*) FROM jobchunk.jc_create_chunks(1, 100);
	-- one chunk whose lease has run out, for a claim to take back
	SELECT count(*) FROM jobchunk.jc_next_pending(1, 'gone');
	UPDATE jobchunk.job_chunks SET lease_expires_at = now() - interval '1 second'
	WHERE status = 'processing';
});

# With notifications on, a claim that takes back an expired lease has sent
# a NOTIFY, and its transaction cannot be prepared.
my ($ret, $stdout, $stderr) = $node->psql(
	'postgres', q{
	BEGIN;
	SELECT count(*) FROM jobchunk.jc_next_pending(1);
	PREPARE TRANSACTION 'notified';
});
like($stderr, qr/cannot PREPARE a transaction that has executed LISTEN, UNLISTEN, or NOTIFY/,
	'with jobchunk.notify on, a claim that took back a lease cannot be prepared');

# With it off, it can; and the same session claims again at once, although
# its prepared transaction holds the stripe row it wrote.
is( $node->safe_psql(
		'postgres', q{
	SET jobchunk.notify = off;
	SET statement_timeout = '10s';
	BEGIN;
	SELECT retry_count FROM jobchunk.jc_next_pending(1, 'prepared');
	PREPARE TRANSACTION 'claims';
	SELECT count(*) FROM jobchunk.jc_claim(1, 3, 'after');
	BEGIN;
	SELECT count(*) FROM jobchunk.jc_claim(1, 2, 'prepared too');
	PREPARE TRANSACTION 'more claims';
	SELECT count(*) FROM jobchunk.jc_claim(1, 4, 'after both');
}),
	"1\n3\n2\n4",
	'with jobchunk.notify off, claims are prepared, and the session goes on claiming');

# The prepared claims hold their chunks, invisible to others until they are
# committed; the counts then agree with the rows.
is( $node->safe_psql(
		'postgres', q{SELECT count(*) FROM jobchunk.job_chunks WHERE status = 'processing'}),
	'8', 'before COMMIT PREPARED: the chunks of the committed claims, and the first one');
$node->safe_psql('postgres', "COMMIT PREPARED 'claims'");
$node->safe_psql('postgres', "ROLLBACK PREPARED 'more claims'");
is( $node->safe_psql(
		'postgres', q{
	SELECT string_agg(coalesce(task_id, '-') || ':' || n, ' ' ORDER BY task_id)
	FROM (SELECT task_id, count(*) AS n FROM jobchunk.job_chunks
	      WHERE status = 'processing' GROUP BY task_id) AS t}),
	'after:3 after both:4 prepared:1',
	'committed and rolled back as prepared');
is( $node->safe_psql(
		'postgres', q{
	SELECT s.total = count(*)
	   AND s.pending = count(*) FILTER (WHERE c.status = 'pending')
	   AND s.processing = count(*) FILTER (WHERE c.status = 'processing')
	   AND s.completed + s.failed = count(*) FILTER (WHERE c.status IN ('completed', 'failed'))
	FROM jobchunk.jc_statistics(1) AS s, jobchunk.job_chunks AS c
	GROUP BY s.total, s.pending, s.processing, s.completed, s.failed}),
	't', 'the statistics equal the table');

# Creating chunks, completing and retrying in a prepared transaction.
is( $node->safe_psql(
		'postgres', q{
	SET jobchunk.notify = off;
	SET statement_timeout = '10s';
	BEGIN;
	SELECT jobchunk.jc_create_job('prepared job') AS job \gset
	SELECT count(*) FROM jobchunk.jc_create_chunks(:job, 1000);
	SELECT count(*) FROM jobchunk.jc_mark_completed(
		ARRAY(SELECT id FROM jobchunk.job_chunks WHERE task_id = 'after'));
	PREPARE TRANSACTION 'work';
	SELECT count(*) FROM jobchunk.jc_mark_completed(
		ARRAY(SELECT id FROM jobchunk.job_chunks WHERE task_id = 'after both'));
	COMMIT PREPARED 'work';
	SELECT completed FROM jobchunk.jc_statistics(1);
}),
	"2\n3\n4\n7",
	'chunks created and completed in prepared transactions');

$node->stop;
done_testing();
