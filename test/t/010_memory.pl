# A call that runs a statement per job keeps a bounded amount of memory.  A
# jc_purge_jobs() of 20,000 finished jobs raises the backend's peak resident
# memory (VmHWM, which the backend reads of itself in /proc) by about 10 MB
# here; when SPI kept every statement's rows until the call returned, by
# about 380 MB.  JIT is off: it would map LLVM into the backend for the
# purge's first query, some 50 MB that depend on the platform.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

plan skip_all => 'reads /proc/self/status, which only Linux has'
  unless -r '/proc/self/status';

my $node = PostgreSQL::Test::Cluster->new('memory');
$node->init;
$node->append_conf('postgresql.conf', "shared_buffers = 16MB\njit = off");
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
cmp_ok($after - $before, '<', 50_000,
	"purging 20,000 jobs in one call raised the peak by under 50 MB ("
	  . ($after - $before) . ' kB)');

$node->stop;
done_testing();
