# pg_upgrade of a cluster using jobchunk while jobs are in flight.  The old
# cluster has two databases: one numbered as it comes (shard 0) and one
# made shard 3 with jc_set_shard() before its first job (and with default
# privileges that revoke EXECUTE on functions from PUBLIC), each with jobs in
# every state (chunks pending, processing under a lease, completed, failed,
# retried, a lease that has run out, a paused, a cancelled and a finished
# job).  After pg_upgrade into a new cluster, every row of the three
# tables, the statistics, the sequences, the extension's version, its
# functions' settings and privileges and its initial privileges are as
# before; the counts equal the rows; the workers complete their chunks with
# the tokens they hold, stale tokens are refused, the run-out lease is taken
# back, a new claim gets a larger token, new jobs and chunks go on from the
# old ids in the same shard, and the purges work.

use strict;
use warnings;

use Cwd;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use JobchunkTest;

# The README's least-privilege set-up (the SQL block after "A
# least-privilege set-up"), less its CREATE ROLE lines: the roles are made
# once for the cluster, below.  (The tests run in the source tree.)
my ($readme_setup) =
  slurp_file('README.md') =~ /^A least-privilege set-up.*?^```sql\n(.*?)^```$/ms;
ok(defined $readme_setup, 'the README has its least-privilege set-up');
my $readme_grants = join("\n", grep { !/^CREATE ROLE / } split(/\n/, $readme_setup // ''));

my $old = PostgreSQL::Test::Cluster->new('old');
$old->init;
$old->start;
# The bootstrap superuser (the OS user running the test) owns everything.
my $su = $old->safe_psql('postgres', 'SELECT current_user');
my $owner_only = quotemeta("$su=X/$su");
my $to_public = quotemeta("=X/$su");

# The roles of the least-privilege set-up (README, Privileges): global
# objects, which pg_upgrade carries over with pg_dumpall --globals-only.
$old->safe_psql(
	'postgres', q{
	CREATE ROLE jobchunk_worker NOLOGIN;
	CREATE ROLE jobchunk_producer NOLOGIN;
	CREATE ROLE jobchunk_reader NOLOGIN;
	CREATE ROLE jobchunk_editor NOLOGIN;
});

# database => the shard it is made (undef: never numbered, so shard 0).
# The shard also has the hardening of a careful production set-up: default
# privileges that revoke EXECUTE on new functions from PUBLIC, which the
# extension's explicit grant on jc_chunk_is_valid must override.
my %shard_of = (plain => undef, shard3 => 3);
my %hardening = (
	plain => '',
	shard3 => 'ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;');

my (%held, %lost, %job, %max_token_before);
foreach my $db (sort keys %shard_of)
{
	my $set_shard =
	  defined $shard_of{$db} ? "SELECT jobchunk.jc_set_shard($shard_of{$db});" : '';
	$old->safe_psql('postgres', "CREATE DATABASE $db");

	# The extension, the shard number, and the grants of the README's set-up,
	# with an editor allowed to change chunks' priorities by hand (its writes
	# run the check constraint, jc_chunk_is_valid, with its own privileges).
	$old->safe_psql(
		$db, qq{
		$hardening{$db}
		CREATE EXTENSION jobchunk;
		$set_shard
		$readme_grants
		GRANT USAGE ON SCHEMA jobchunk TO jobchunk_editor;
		GRANT SELECT, UPDATE (priority) ON jobchunk.job_chunks TO jobchunk_editor;
	});

	# Jobs in every state.  'done': both chunks completed (for jc_purge_job);
	# 'cancelled': one chunk completed, the rest failed by the cancel (for
	# jc_purge_jobs); 'paused': one completed, two pending; 'no chunks'.
	my $jobs = $old->safe_psql(
		$db, q{
		SET jobchunk.chunk_size = 1;
		SELECT jobchunk.jc_create_job('mixed') AS mixed \gset
		SELECT jobchunk.jc_create_job('paused') AS paused \gset
		SELECT jobchunk.jc_create_job('cancelled') AS cancelled \gset
		SELECT jobchunk.jc_create_job('done') AS done \gset
		SELECT jobchunk.jc_create_job('no chunks') AS empty \gset
		SELECT count(*) FROM jobchunk.jc_create_chunks(:mixed, 10, 7) \gset
		SELECT count(*) FROM jobchunk.jc_create_chunks(:paused, 3) \gset
		SELECT count(*) FROM jobchunk.jc_create_chunks(:cancelled, 4) \gset
		SELECT count(*) FROM jobchunk.jc_create_chunks(:done, 2) \gset
		SELECT count(*) FROM (SELECT array_agg(id) AS ids, array_agg(lease_token) AS tokens
		                      FROM jobchunk.jc_claim(:done, 2, 'worker-done')) AS c,
		     LATERAL jobchunk.jc_mark_completed(c.ids, c.tokens) \gset
		SELECT jobchunk.jc_mark_completed(id, lease_token)
		FROM jobchunk.jc_next_pending(:paused, 'worker-paused') \gset
		SELECT jobchunk.jc_pause_job(:paused) \gset
		SELECT jobchunk.jc_mark_completed(id, lease_token)
		FROM jobchunk.jc_next_pending(:cancelled, 'worker-cancelled') \gset
		SELECT jobchunk.jc_cancel_job(:cancelled) \gset
		SELECT :mixed, :paused, :cancelled, :done, :empty;
	});
	my @ids = split /\|/, $jobs;
	@{ $job{$db} }{qw(mixed paused cancelled done empty)} = @ids;
	my $shard = $shard_of{$db} // 0;
	is( join(',', map { $_ >> 48 } @ids),
		join(',', ($shard) x 5),
		"$db: the jobs are numbered in shard $shard");

	# Job 'mixed': two chunks held by a worker under a lease of an hour, whose
	# tokens it keeps; one completed; one failed with a message; one failed
	# and retried (retry_count 1); and one claimed with a lease of a
	# millisecond, by a worker that is gone (the last claim, so that no claim
	# takes it back before the upgrade).
	my $mixed = $job{$db}{mixed};
	$held{$db} = [
		map { [ split /\|/ ] } split /\n/,
		$old->safe_psql(
			$db, qq{
			SELECT id, lease_token
			FROM jobchunk.jc_claim($mixed, 2, 'worker-held', interval '1 hour') ORDER BY id})
	];
	is(scalar @{ $held{$db} }, 2, "$db: a worker holds two chunks");
	$old->safe_psql(
		$db, qq{
		SELECT jobchunk.jc_mark_completed(id, lease_token)
		FROM jobchunk.jc_next_pending($mixed, 'worker-completes');
		SELECT jobchunk.jc_mark_failed(id, E'it''s\\nbroken', lease_token)
		FROM jobchunk.jc_next_pending($mixed, 'worker-fails');
		SELECT jobchunk.jc_mark_failed(id, 'Timeout', lease_token)
		FROM jobchunk.jc_next_pending($mixed, 'worker-retried');
	});
	$lost{$db} = [
		split /\|/,
		$old->safe_psql(
			$db, qq{
			SELECT id, lease_token
			FROM jobchunk.jc_next_pending($mixed, 'worker-lost', interval '1 millisecond')})
	];
	$old->safe_psql(
		$db, qq{
		SELECT jobchunk.jc_retry(id) FROM jobchunk.jc_chunks($mixed, 'failed')
		WHERE error_message = 'Timeout'});

	is( $old->safe_psql(
			$db, qq{
		SELECT string_agg(s.name || ':' || s.state || ':' || t.total || '/' || t.pending || '/'
		                  || t.processing || '/' || t.completed || '/' || t.failed, ',' ORDER BY s.id)
		FROM jobchunk.crawl_jobs AS s, jobchunk.jc_statistics(s.id) AS t}),
		'mixed:active:10/5/3/1/1,paused:paused:3/2/0/1/0,cancelled:cancelled:4/0/0/1/3,'
		  . 'done:active:2/0/0/2/0,no chunks:active:0/0/0/0/0',
		"$db: jobs in every state before the upgrade");
	is( $old->safe_psql(
			$db, qq{
		SELECT count(*) FROM jobchunk.job_chunks
		WHERE job_id = $mixed AND status = 'pending' AND retry_count = 1 AND error_message = 'Timeout'}),
		'1',
		"$db: a retried chunk is pending again");
	$max_token_before{$db} =
	  $old->safe_psql($db, 'SELECT max(lease_token) FROM jobchunk.job_chunks');
}

# What the upgrade must keep, as text.  Function oids are not kept by
# pg_upgrade, so objects are named by their description.  Privileges are
# compared as what they grant: an ACL equal to the object's default (NULL
# in the catalog means the default) is written as the default, sorted.
# pg_upgrade (pg_dump --binary-upgrade) writes no GRANT for an ACL that is
# the default, so jc_chunk_is_valid's explicit {=X/owner,owner=X/owner}
# comes back as NULL, and its pg_init_privs row, which is the default too,
# is not made again: the same privileges, before and after.
my $jobchunk_oid = q{(SELECT oid FROM pg_extension WHERE extname = 'jobchunk')};
my %checks = (
	'crawl_jobs rows' =>
	  q{SELECT string_agg(j::text, E'\n' ORDER BY id) FROM jobchunk.crawl_jobs j},
	'job_chunks rows' =>
	  q{SELECT string_agg(c::text, E'\n' ORDER BY id) FROM jobchunk.job_chunks c},
	'job_counts rows' =>
	  q{SELECT string_agg(k::text, E'\n' ORDER BY job_id, stripe) FROM jobchunk.job_counts k},
	'statistics' => q{SELECT string_agg(s::text, E'\n' ORDER BY j.id)
		FROM jobchunk.crawl_jobs j, jobchunk.jc_statistics(j.id) s},
	'sequences (the next ids)' => q{
		SELECT (SELECT last_value || ':' || is_called FROM jobchunk.crawl_jobs_id_seq) || ','
		    || (SELECT last_value || ':' || is_called FROM jobchunk.job_chunks_id_seq)},
	'extension version, schema and configuration tables' => q{
		SELECT extversion || ' ' || extnamespace::regnamespace || ' ' || extrelocatable || ' '
		    || array(SELECT c::regclass::text FROM unnest(extconfig) AS c ORDER BY 1)::text
		FROM pg_extension WHERE extname = 'jobchunk'},
	'extension members' => qq{
		SELECT string_agg(member, E'\\n' ORDER BY member)
		FROM (SELECT pg_describe_object(classid, objid, objsubid) AS member FROM pg_depend
		      WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
		        AND refobjid = $jobchunk_oid) AS m},
	'functions: owner, security, settings (proconfig), privileges' => q{
		SELECT string_agg(format('%s owner=%s secdef=%s strict=%s volatile=%s config=%s acl=%s lib=%s',
		                         oid::regprocedure, proowner::regrole, prosecdef, proisstrict,
		                         provolatile, proconfig,
		                         array(SELECT a::text FROM unnest(coalesce(proacl, acldefault('f', proowner))) AS a
		                               ORDER BY 1),
		                         probin),
		                  E'\n' ORDER BY oid::regprocedure::text)
		FROM pg_proc WHERE pronamespace = 'jobchunk'::regnamespace},
	'tables, sequences and indexes: owner, options, privileges' => q{
		SELECT string_agg(format('%s %s owner=%s options=%s acl=%s', relname, relkind,
		                         relowner::regrole, reloptions,
		                         array(SELECT a::text
		                               FROM unnest(coalesce(relacl, acldefault((CASE relkind WHEN 'S' THEN 's' ELSE 'r' END)::"char",
		                                                                       relowner))) AS a
		                               ORDER BY 1)),
		                  E'\n' ORDER BY relname)
		FROM pg_class WHERE relnamespace = 'jobchunk'::regnamespace},
	'column privileges' => q{
		SELECT string_agg(col || ' ' || acl, E'\n' ORDER BY col)
		FROM (SELECT attrelid::regclass || '.' || attname AS col, attacl::text AS acl
		      FROM pg_attribute
		      WHERE attacl IS NOT NULL
		        AND attrelid IN (SELECT oid FROM pg_class
		                         WHERE relnamespace = 'jobchunk'::regnamespace)) AS a},
	'schema privileges' =>
	  q{SELECT nspowner::regrole || ' ' || nspacl::text FROM pg_namespace WHERE nspname = 'jobchunk'},
	'default privileges' => q{
		SELECT coalesce(string_agg(defaclrole::regrole || ' ' || defaclobjtype::text || ' '
		                           || defaclacl::text, E'\n' ORDER BY defaclobjtype), 'none')
		FROM pg_default_acl},
	'initial privileges (pg_init_privs) of the functions and tables' => qq{
		SELECT string_agg(object || ' ' || initial, E'\\n' ORDER BY object)
		FROM (SELECT pg_describe_object(d.classid, d.objid, 0) AS object,
		             array(SELECT a::text
		                      FROM unnest(coalesce(i.initprivs,
		                                           CASE WHEN p.oid IS NOT NULL THEN acldefault('f', p.proowner)
		                                                ELSE acldefault((CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END)::"char",
		                                                                c.relowner) END)) AS a
		                      ORDER BY 1)::text AS initial
		      FROM pg_depend AS d
		      LEFT JOIN pg_init_privs AS i
		        ON i.classoid = d.classid AND i.objoid = d.objid AND i.objsubid = 0
		      LEFT JOIN pg_proc AS p ON d.classid = 'pg_proc'::regclass AND p.oid = d.objid
		      LEFT JOIN pg_class AS c ON d.classid = 'pg_class'::regclass AND c.oid = d.objid
		      WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
		        AND d.refobjid = $jobchunk_oid
		        AND d.classid IN ('pg_proc'::regclass, 'pg_class'::regclass)) AS m},
	'indexes and constraints' => q{
		SELECT string_agg(def, E'\n' ORDER BY def)
		FROM (SELECT pg_get_indexdef(indexrelid) AS def FROM pg_index
		      WHERE indrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'jobchunk'::regnamespace)
		      UNION ALL
		      SELECT conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
		      FROM pg_constraint WHERE connamespace = 'jobchunk'::regnamespace) AS d},);

my %before;
foreach my $db (sort keys %shard_of)
{
	foreach my $name (sort keys %checks)
	{
		$before{$db}{$name} = $old->safe_psql($db, $checks{$name});
		isnt($before{$db}{$name}, '', "$db: $name: recorded before the upgrade");
	}
}
foreach my $db (sort keys %shard_of)
{
	like($before{$db}{'functions: owner, security, settings (proconfig), privileges'},
		qr/jc_claim\(bigint,integer,text,interval\) [^\n]*secdef=t [^\n]*enable_incremental_sort=off/,
		"$db: before the upgrade, the claim runs as its owner, with its planner setting");
	like(
		$before{$db}{'initial privileges (pg_init_privs) of the functions and tables'},
		qr/^function jobchunk\.jc_claim\(bigint,integer,text,interval\) \{$owner_only\}\n/m,
		"$db: before the upgrade, the initial privileges of the claim exclude PUBLIC");
	like(
		$before{$db}{'initial privileges (pg_init_privs) of the functions and tables'},
		qr/^function jobchunk\.jc_chunk_is_valid\([^\n]*\) \{(?:[^\n]*,)?(?:$to_public)[,}]/m,
		"$db: before the upgrade, the initial privileges of jc_chunk_is_valid include PUBLIC");
}
like($before{shard3}{'default privileges'},
	qr/^\Q$su\E f \{$owner_only\}$/,
	'shard3: before the upgrade, new functions are not executable by PUBLIC by default');

# The upgrade: stop the old cluster, make a new one and run pg_upgrade (a
# check first, as an operator would), from the TAP test's own directory,
# where it may write (delete_old_cluster.sh goes to its working directory),
# with its servers' sockets where the test's are.
$old->stop;
my $new = PostgreSQL::Test::Cluster->new('new');
$new->init;
my @upgrade = (
	'pg_upgrade', '--no-sync',
	'-d', $old->data_dir, '-D', $new->data_dir,
	'-b', $old->config_data('--bindir'), '-B', $new->config_data('--bindir'),
	'-s', $new->host, '-p', $old->port, '-P', $new->port);
my $cwd = getcwd();
chdir ${PostgreSQL::Test::Utils::tmp_check};
command_ok([ @upgrade, '--check' ], 'pg_upgrade --check finds nothing to refuse');
command_ok(\@upgrade, 'pg_upgrade of the cluster with jobs in flight');
chdir $cwd;
$new->start;

foreach my $db (sort keys %shard_of)
{
	my $shard = $shard_of{$db} // 0;
	my %id = %{ $job{$db} };

	# The rows, statistics, sequences and catalog entries are as they were.
	foreach my $name (sort keys %checks)
	{
		is($new->safe_psql($db, $checks{$name}),
			$before{$db}{$name}, "$db: $name: the same after the upgrade");
	}
	is($new->safe_psql($db, $JOBS_WHOSE_STATISTICS_DIFFER),
		'0', "$db: after the upgrade, the counts of every job equal its rows");
	# The shard number, which any role may read, default privileges
	# (shard3's revoke EXECUTE from PUBLIC) notwithstanding.
	is($new->safe_psql($db, 'SET ROLE jobchunk_worker; SELECT jobchunk.jc_shard()'),
		$shard, "$db: a worker reads the shard number, $shard");

	# A token the chunk never had is still refused: fencing holds across the
	# upgrade (the gone worker's stale token, below, too).
	my ($held1, $token1) = @{ $held{$db}[0] };
	my ($held2, $token2) = @{ $held{$db}[1] };
	my ($ret, $stdout, $stderr) = $new->psql(
		$db, qq{\\set VERBOSITY verbose
		SET ROLE jobchunk_worker;
		SELECT jobchunk.jc_mark_completed(${held1}::bigint, ($token1 + 1)::bigint)});
	like($stderr, qr/ERROR:  55000: chunk $held1 is no longer held by lease token/,
		"$db: a completion with a token the chunk never had is refused (55000)");

	# The worker that held two chunks completes both with its tokens.
	is( $new->safe_psql(
			$db, qq{
		SET ROLE jobchunk_worker;
		SELECT string_agg(id || ':' || status || ':' || lease_token, ',' ORDER BY id)
		FROM jobchunk.jc_mark_completed(ARRAY[$held1, $held2]::bigint[],
		                                ARRAY[$token1, $token2]::bigint[])}),
		"$held1:completed:$token1,$held2:completed:$token2",
		"$db: the worker completes the chunks it held with its tokens");

	# A new claim (from the head of the queue) first takes back the lease
	# that ran out, then gets a token larger than any given before.
	my ($lost_id, $lost_token) = @{ $lost{$db} };
	my $claim = $new->safe_psql(
		$db, qq{
		SET ROLE jobchunk_worker;
		SELECT id, lease_token FROM jobchunk.jc_next_pending($id{mixed}, 'worker-after')});
	my ($claimed, $new_token) = split /\|/, $claim;
	ok(defined $new_token && $new_token > $max_token_before{$db},
		"$db: a claim after the upgrade gets a token larger than any before "
		  . "($claim > $max_token_before{$db})");
	is( $new->safe_psql(
			$db, qq{
		SELECT status || ':' || retry_count || ':' || error_message || ':' || lease_token
		FROM jobchunk.job_chunks WHERE id = $lost_id}),
		"pending:1:lease expired:$lost_token",
		"$db: the lease that ran out before the upgrade is taken back as a new attempt");
	($ret, $stdout, $stderr) = $new->psql(
		$db, qq{\\set VERBOSITY verbose
		SET ROLE jobchunk_worker;
		SELECT jobchunk.jc_mark_completed(${lost_id}::bigint, ${lost_token}::bigint)});
	like($stderr, qr/ERROR:  55000:/, "$db: the gone worker's late completion is refused (55000)");

	# The paused job stays paused.
	is( $new->safe_psql(
			$db,
			"SET ROLE jobchunk_worker; SELECT count(*) FROM jobchunk.jc_claim($id{paused}, 5)"),
		'0',
		"$db: no chunk of the paused job is claimed");

	# New jobs and chunks go on from the old ids, in the same shard.
	my ($jobs_last, $chunks_last) =
	  $before{$db}{'sequences (the next ids)'} =~ /^(\d+):true,(\d+):true$/;
	my $new_job = $new->safe_psql(
		$db, q{SET ROLE jobchunk_producer; SELECT jobchunk.jc_create_job('after the upgrade')});
	is($new_job, $jobs_last + 1, "$db: a new job gets the next id after the old ones");
	is($new_job >> 48, $shard, "$db: the new job is in shard $shard");
	is( $new->safe_psql(
			$db, qq{
		SET ROLE jobchunk_producer;
		SET jobchunk.chunk_size = 1;
		SELECT min(id) || '-' || max(id) || ':' || count(*)
		FROM jobchunk.jc_create_chunks($new_job, 5)}),
		($chunks_last + 1) . '-' . ($chunks_last + 5) . ':5',
		"$db: new chunks get the next ids after the old ones");
	is(($chunks_last + 1) >> 48, $shard, "$db: the new chunks are in shard $shard");
	($ret, $stdout, $stderr) =
	  $new->psql($db, "\\set VERBOSITY verbose\nSELECT jobchunk.jc_set_shard(5)");
	like($stderr, qr/ERROR:  55000: cannot make this database shard 5/,
		"$db: the database is still numbered: jc_set_shard refuses to move its ids (55000)");

	# The purges: the finished job by id, then the cancelled one by age (the
	# only other finished job).
	is( $new->safe_psql(
			$db, "SET ROLE jobchunk_producer; SELECT jobchunk.jc_purge_job($id{done})"),
		'2',
		"$db: jc_purge_job purges the finished job's two chunks");
	is( $new->safe_psql(
			$db, q{
		SET ROLE jobchunk_producer;
		SELECT string_agg(job_id || ':' || chunks, ',' ORDER BY job_id)
		FROM jobchunk.jc_purge_jobs('0')}),
		"$id{cancelled}:4",
		"$db: jc_purge_jobs purges the cancelled job's four chunks");
	is( $new->safe_psql(
			$db, qq{
		SELECT (SELECT count(*) FROM jobchunk.crawl_jobs WHERE id IN ($id{done}, $id{cancelled}))
		     + (SELECT count(*) FROM jobchunk.job_chunks WHERE job_id IN ($id{done}, $id{cancelled}))
		     + (SELECT count(*) FROM jobchunk.job_counts WHERE job_id IN ($id{done}, $id{cancelled}))}),
		'0',
		"$db: the purged jobs' rows are gone from the three tables");

	# The privileges work as they did: the editor, granted nothing on the
	# functions, may run the check constraint (through PUBLIC), but no call
	# of the API; its change of a chunk by hand passes the constraint.
	is( $new->safe_psql(
			$db, q{
		SELECT has_function_privilege('jobchunk_editor',
		           'jobchunk.jc_chunk_is_valid(text,timestamptz,integer,integer,integer,bigint)', 'EXECUTE')
		    || ',' || has_function_privilege('jobchunk_editor',
		           'jobchunk.jc_claim(bigint,integer,text,interval)', 'EXECUTE')}),
		'true,false',
		"$db: PUBLIC may still run jc_chunk_is_valid, and not jc_claim");
	is( $new->safe_psql(
			$db, qq{
		SET ROLE jobchunk_editor;
		UPDATE jobchunk.job_chunks SET priority = 8 WHERE id = $held1 RETURNING priority}),
		'8',
		"$db: a role granted UPDATE on job_chunks writes it after the upgrade");

	# After all that work on the new cluster the counts are still exact, and
	# the indexes the upgrade carried over agree with the tables.
	is($new->safe_psql($db, $JOBS_WHOSE_STATISTICS_DIFFER),
		'0', "$db: after the work on the new cluster, the counts equal the rows");
	is( $new->safe_psql(
			$db, q{
		SELECT total || '/' || pending || '/' || processing || '/' || completed || '/' || failed
		FROM jobchunk.jc_statistics((SELECT id FROM jobchunk.crawl_jobs WHERE name = 'mixed'))}),
		'10/5/1/3/1',
		"$db: the statistics of the job in flight show the work done after the upgrade");
	is( $new->safe_psql(
			$db, q{
		CREATE EXTENSION amcheck;
		WITH indexes AS (
			SELECT i.indexrelid FROM pg_index AS i JOIN pg_class AS t ON t.oid = i.indrelid
			WHERE t.relnamespace = 'jobchunk'::regnamespace)
		SELECT count(*) - (SELECT count(*) FROM indexes)
		FROM indexes, LATERAL bt_index_check(indexrelid, true) AS checked}),
		'0',
		"$db: the indexes of jobchunk's tables hold every row (amcheck)");
}

$new->stop;
done_testing();
