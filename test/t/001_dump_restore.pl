# pg_dump of a database using jobchunk, restored into a new database, gives
# back the same jobs, chunks, statuses, sequences, statistics, shard number
# and grants on the functions, and every function works on the restored
# data.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dump');
$node->init;
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE source');
$node->safe_psql(
	'source', q{
	CREATE EXTENSION jobchunk;
	INSERT INTO jobchunk.crawl_jobs (name) VALUES ('first'), ('second'), ('no chunks');
	SELECT count(*) FROM jobchunk.jc_create_chunks(1, 5000);
	SELECT count(*) FROM jobchunk.jc_create_chunks(2, 1234, 9);
	SELECT jobchunk.jc_mark_completed(id) FROM jobchunk.jc_next_pending(1, 'w1');
	SELECT jobchunk.jc_mark_failed(id, E'it''s\nbroken') FROM jobchunk.jc_next_pending(1);
	SELECT jobchunk.jc_retry(id) FROM jobchunk.jc_chunks(1, 'failed');
	SELECT count(*) FROM jobchunk.jc_next_pending(2, 'w2');
	CREATE ROLE dump_reader;
	GRANT EXECUTE ON FUNCTION jobchunk.jc_job(bigint) TO dump_reader;
	REVOKE EXECUTE ON FUNCTION jobchunk.jc_shard() FROM PUBLIC;
});

# Everything a restore must bring back, as text.
my %checks = (
	jobs => 'SELECT string_agg(j::text, E\'\n\' ORDER BY id) FROM jobchunk.crawl_jobs j',
	chunks => 'SELECT string_agg(c::text, E\'\n\' ORDER BY id) FROM jobchunk.job_chunks c',
	statistics => 'SELECT string_agg(s::text, E\'\n\' ORDER BY j.id) '
	  . 'FROM jobchunk.crawl_jobs j, jobchunk.jc_statistics(j.id) s',
	sequences => 'SELECT (SELECT last_value FROM jobchunk.crawl_jobs_id_seq) || \',\' || '
	  . '(SELECT last_value FROM jobchunk.job_chunks_id_seq)',
	shard => 'SELECT jobchunk.jc_shard()',
	grants => q{SELECT string_agg(p.oid::regprocedure || ' ' || p.proacl::text, E'\n' ORDER BY p.proname)
		FROM pg_proc AS p WHERE p.pronamespace = 'jobchunk'::regnamespace
		AND p.proname IN ('jc_job', 'jc_shard')},);

my $dump = $PostgreSQL::Test::Utils::tmp_check . '/source.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('source') ],
	'pg_dump of a database using jobchunk');
$node->safe_psql('postgres', 'CREATE DATABASE target');
$node->command_ok([ 'pg_restore', '-d', $node->connstr('target'), $dump ],
	'pg_restore into a new database');

foreach my $name (sort keys %checks)
{
	my $before = $node->safe_psql('source', $checks{$name});
	my $after = $node->safe_psql('target', $checks{$name});
	isnt($before, '', "$name: not empty");
	is($after, $before, "$name: identical after restore");
}

# The restored database goes on where the old one stopped.
is( $node->safe_psql(
		'target', q{
	INSERT INTO jobchunk.crawl_jobs (name) VALUES ('after restore') RETURNING id;}),
	'4',
	'job ids continue after the restored ones');
is( $node->safe_psql(
		'target', q{
	SELECT min(id) > (SELECT max(id) FROM jobchunk.job_chunks WHERE job_id < 4)
	FROM jobchunk.jc_create_chunks(4, 1000);}),
	't',
	'chunk ids continue after the restored ones');
is( $node->safe_psql(
		'target', q{
	SELECT string_agg(chunk_index || ':' || status, ',' ORDER BY chunk_index)
	FROM (SELECT * FROM jobchunk.jc_next_pending(1, 'w3')
	      UNION ALL SELECT * FROM jobchunk.jc_mark_completed(
	          (SELECT id FROM jobchunk.job_chunks WHERE job_id = 2 AND status = 'processing'))) s;}),
	'0:completed,1:processing',
	'claiming and completing work on restored chunks');
is( $node->safe_psql(
		'target', q{
	SELECT total || '/' || completed || '/' || processing FROM jobchunk.jc_statistics(2);}),
	'3/1/0',
	'statistics of restored chunks');

$node->stop;
done_testing();
