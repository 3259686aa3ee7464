# A call that runs a statement per job keeps a bounded amount of memory.  A
# jc_purge_jobs() of 20,000 finished jobs raises the backend's peak resident
# memory (VmHWM, which the backend reads of itself in /proc, and which counts
# the shared memory it touches too) by about 67 MB here; when SPI kept every
# statement's rows until the call returned, by about 436 MB.  (Its private
# memory, sampled from outside during the call, peaked at 5 MB.)

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

plan skip_all => 'reads /proc/self/status, which only Linux has'
  unless -r '/proc/self/status';

my $node = PostgreSQL::Test::Cluster->new('memory');
$node->init;
$node->append_conf('postgresql.conf', 'shared_buffers = 16MB');
$node->start;

$node->safe_psql(
	'postgres', q{
	CREATE EXTENSION jobchunk;
	INSERT INTO jobchunk.crawl_jobs (name, state)
	SELECT 'cancelled before its chunks', 'cancelled' FROM generate_series(1, 20000);
});

my ($before, $purged, $after) = split /\n/, $node->safe_psql(
	'postgres', q{
	CREATE FUNCTION peak_kb() RETURNS bigint LANGUAGE sql AS $$
		SELECT substring(pg_read_file('/proc/self/status') FROM 'VmHWM:\s*(\d+)')::bigint
	$$;
	SELECT peak_kb();
	SELECT count(*) FROM jobchunk.jc_purge_jobs('0');
	SELECT peak_kb();
});

is($purged, 20000, 'every finished job was purged');
cmp_ok($before, '>', 0, "the backend's peak memory can be read ($before kB)");
cmp_ok($after - $before, '<', 100_000,
	"purging 20,000 jobs in one call raised the peak by under 100 MB ("
	  . ($after - $before) . ' kB)');

$node->stop;
done_testing();
