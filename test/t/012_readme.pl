# The README's example session (the first SQL block under "## API"), run
# as written with psql on a new database: every statement succeeds, and
# jc_statistics() gives the row the README shows in its comment.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# The tests run in the source tree, where the README is.
my $readme = slurp_file('README.md');
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

$node->stop;
done_testing();
