# The README's SQL blocks put no comment after a psql backslash command.
# Its example session (the first SQL block under "## API"), run
# as written with psql on a new database: every statement succeeds, and
# jc_statistics() gives the row the README shows in its comment.  Then the
# batch worker of "## Writing a worker", run as written on the same job:
# it claims, keeps and completes the chunks left.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# The tests run in the source tree, where the README is.
my $readme = slurp_file('README.md');

# psql takes everything after a backslash command as its arguments, a
# comment too (\gset would take "--" as the prefix of its variables): no
# SQL block of the README may put one there.
my @commented_meta = grep { /\\[a-z]+\b.*--/ }
  map { split /\n/ } $readme =~ /^```sql\n(.*?)^```$/msg;
is_deeply(\@commented_meta, [],
	'no psql backslash command in a SQL block has a comment after it');
my ($api) = $readme =~ /^## API\n.*?^```sql\n(.*?)^```$/ms;
ok(defined $api, 'the README has an example session under "## API"');

# The statistics row of the example, as its comment shows it:
# "--  job_id | total | ..." then "--       1 |     5 | ...".
my ($shown) = $api =~ /^SELECT \* FROM jobchunk\.jc_statistics\(1\);\n--[^\n]*\n--([^\n]*)$/m;
ok(defined $shown, 'the example shows the statistics it expects');
$shown = join('|', map { s/^\s+|\s+$//gr } split(/\|/, $shown // ''));

my $node = PostgreSQL::Test::Cluster->new('readme');
$node->init;
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION jobchunk');

my $script = $PostgreSQL::Test::Utils::tmp_check . '/api_example.sql';
append_to_file($script, $api);
my ($stdout, $stderr);
my $ok = IPC::Run::run(
	[ 'psql', '-X', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'), '-f', $script ],
	'>', \$stdout, '2>', \$stderr);
ok($ok, 'the example runs as written') or diag($stderr);
is($stderr, '', 'the example reports no error or warning');

is($node->safe_psql('postgres', 'SELECT * FROM jobchunk.jc_statistics(1)'),
	$shown, 'the statistics are those the example shows');

my ($batch) = $readme =~ /^## Writing a worker\n.*?^Batch workers .*?^```sql\n(.*?)^```$/ms;
ok(defined $batch, 'the README has a batch worker under "## Writing a worker"');
my $batch_script = $PostgreSQL::Test::Utils::tmp_check . '/batch_worker.sql';
append_to_file($batch_script, $batch);
$ok = IPC::Run::run(
	[ 'psql', '-X', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'), '-f', $batch_script ],
	'>', \$stdout, '2>', \$stderr);
ok($ok, 'the batch worker runs as written') or diag($stderr);
is($stderr, '', 'the batch worker reports no error or warning');
like($stdout, qr/^\s+4\n\(1 row\)/m, 'it completes the 4 chunks the example left pending');
is($node->safe_psql('postgres', 'SELECT jobchunk.jc_is_complete(1)'),
	't', 'the job is complete');

$node->stop;
done_testing();
