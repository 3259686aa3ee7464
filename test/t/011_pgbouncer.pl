# Workers behind a PgBouncer in transaction mode (pool_mode = transaction):
# 16 pgbench clients, half with the simple and half with the extended query
# protocol, share two server connections, so that consecutive transactions
# of one client land on different backends and one backend serves many
# clients, with its claim positions, fairness cursor, kept plans and the
# asynchronous commit of claims.  They claim one chunk (of a job or of any
# job) or four (jc_claim, in a transaction with SET LOCAL), complete with
# the lease token, heartbeat, fail one chunk in ten and retry it, and probe
# the fencing with a stale token, from three jobs while one of them is
# paused and resumed.  Then:
#
# - every claim was handed to one client, with a token of its own, and the
#   chunk was claimed again only after that client had failed it and it
#   had been retried: no chunk was held by two clients at once;
# - every claim ended in its client's completion or failure with its
#   token, no fenced call was refused but the stale probes, which all were;
# - no chunk of the paused job was claimed while it was paused;
# - a SET LOCAL lease stayed in its transaction;
# - jc_statistics and jc_progress equal a COUNT(*) of the rows, during the
#   run (in REPEATABLE READ transactions) and after it, and every chunk is
#   finished;
# - pgbench reports no error;
# - on one server connection shared by four clients that claim and
#   complete, the completions wait for their WAL flush and the claims do
#   not (commit.c decides per transaction).
#
# And what the README says of poolers: a session's SET reaches the next
# client of the server connection, SET LOCAL does not; a LISTEN through the
# pooler does not reach its client, a direct listener gets the NOTIFY of
# calls made through the pooler.
#
# PgBouncer is required (Debian's pgbouncer; set PGBOUNCER to use another
# binary): without it the test fails.  PgBouncer before 1.21 does not
# support protocol-level prepared statements in transaction mode, so
# pgbench's -M prepared is not used.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use JobchunkTest;

my $pgbouncer = $ENV{PGBOUNCER} // '/usr/sbin/pgbouncer';
-x $pgbouncer
  or die "PgBouncer is needed at $pgbouncer (Debian's package pgbouncer)";
my ($version) = `$pgbouncer --version` =~ /PgBouncer (\S+)/;
note "PgBouncer $version";

my $clients = 8;          # per pgbench, one -M simple and one -M extended
my $pool_size = 2;
my @jobs = ([ 1, 3000, 5 ], [ 2, 2000, 5 ], [ 3, 2000, 7 ]);   # id, chunks, priority
my $chunks = 0;
$chunks += $_->[1] foreach @jobs;

my $node = PostgreSQL::Test::Cluster->new('pgbouncer');
$node->init;
# No autovacuum writing WAL while the WAL writes are counted (below).
$node->append_conf('postgresql.conf', 'autovacuum = off');
$node->start;
my $user = $node->safe_psql('postgres', 'SELECT current_user');

# The jobs, and the clients' logs: each claim, with the backend that made
# it; each fenced outcome, in the call's own transaction; each retry; each
# probe with a stale token.
$node->safe_psql(
	'postgres', q{
	CREATE EXTENSION jobchunk;
	CREATE TABLE claims (client int, chunk_id bigint, lease_token bigint,
	                     lease_minutes int, backend int, script text);
	CREATE TABLE outcomes (client int, chunk_id bigint, lease_token bigint,
	                       outcome text, backend int DEFAULT pg_backend_pid(),
	                       at timestamptz DEFAULT clock_timestamp());
	CREATE TABLE retries (client int, chunk_id bigint, at timestamptz DEFAULT clock_timestamp());
	CREATE TABLE probes (client int, chunk_id bigint, refused boolean);
	CREATE TABLE pauses (paused_at timestamptz, resumed_at timestamptz);

	CREATE FUNCTION log_claims(client int, ids bigint[], tokens bigint[], lease int,
	                           backend int, script text) RETURNS void
	LANGUAGE sql AS $$
		INSERT INTO claims
		SELECT client, i, t, lease, backend, script
		FROM unnest(ids, tokens) AS u(i, t) WHERE i <> 0
	$$;

	CREATE FUNCTION complete_one(client int, chunk bigint, token bigint) RETURNS void
	LANGUAGE plpgsql AS $$
	BEGIN
		PERFORM jobchunk.jc_mark_completed(chunk, token);
		INSERT INTO outcomes (client, chunk_id, lease_token, outcome)
		VALUES (client, chunk, token, 'completed');
	END
	$$;

	CREATE FUNCTION complete_batch(client int, ids bigint[], tokens bigint[]) RETURNS void
	LANGUAGE plpgsql AS $$
	BEGIN
		PERFORM jobchunk.jc_mark_completed(array_remove(ids, 0::bigint), array_remove(tokens, 0::bigint));
		INSERT INTO outcomes (client, chunk_id, lease_token, outcome)
		SELECT client, i, t, 'completed' FROM unnest(ids, tokens) AS u(i, t) WHERE i <> 0;
	END
	$$;

	CREATE FUNCTION fail_one(client int, chunk bigint, token bigint) RETURNS void
	LANGUAGE plpgsql AS $$
	BEGIN
		PERFORM jobchunk.jc_mark_failed(chunk, 'crawler gave up', token);
		INSERT INTO outcomes (client, chunk_id, lease_token, outcome)
		VALUES (client, chunk, token, 'failed');
	END
	$$;

	CREATE FUNCTION retry_one(client int, chunk bigint) RETURNS void
	LANGUAGE plpgsql AS $$
	BEGIN
		PERFORM jobchunk.jc_retry(chunk);
		INSERT INTO retries (client, chunk_id) VALUES (client, chunk);
	END
	$$;

	-- A completion with the token of a claim the client failed: refused.
	CREATE FUNCTION probe_stale(client int, chunk bigint, token bigint) RETURNS void
	LANGUAGE plpgsql AS $$
	BEGIN
		BEGIN
			PERFORM jobchunk.jc_mark_completed(chunk, token);
			INSERT INTO probes VALUES (client, chunk, false);
		EXCEPTION WHEN object_not_in_prerequisite_state THEN
			INSERT INTO probes VALUES (client, chunk, true);
		END;
	END
	$$;

	-- The job's statistics and progress against its rows, in the caller's
	-- snapshot: an error when they differ.
	CREATE FUNCTION check_counts(job bigint) RETURNS void
	LANGUAGE plpgsql AS $$
	DECLARE
		s record;
		p record;
		t record;
	BEGIN
		SELECT * INTO s FROM jobchunk.jc_statistics(job);
		SELECT * INTO p FROM jobchunk.jc_progress(job);
		SELECT count(*) AS total,
		       count(*) FILTER (WHERE status = 'pending') AS pending,
		       count(*) FILTER (WHERE status = 'processing') AS processing,
		       count(*) FILTER (WHERE status = 'completed') AS completed,
		       count(*) FILTER (WHERE status = 'failed') AS failed
		INTO t FROM jobchunk.job_chunks WHERE job_id = job;
		IF (s.total, s.pending, s.processing, s.completed, s.failed)
		   IS DISTINCT FROM (t.total, t.pending, t.processing, t.completed, t.failed)
		OR (p.total_chunks, p.pending_chunks, p.processing_chunks, p.completed_chunks,
		    p.failed_chunks) IS DISTINCT FROM (t.total, t.pending, t.processing,
		    t.completed, t.failed)
		THEN
			RAISE EXCEPTION 'counts of job % differ: statistics %, progress %, rows %',
				job, s, p, t;
		END IF;
	END
	$$;
});
foreach my $job (@jobs)
{
	my ($id, $n, $priority) = @$job;
	$node->safe_psql(
		'postgres', qq{
		INSERT INTO jobchunk.crawl_jobs (id, name) VALUES ($id, 'pooled $id');
		SET jobchunk.chunk_size = 1;
		SELECT count(*) FROM jobchunk.jc_create_chunks($id, $n, $priority);
	});
}

# PgBouncer in transaction mode on a port of its own, in front of the node:
# the database postgres with a pool of $pool_size server connections, and
# single, of one.
my $bouncer_port = PostgreSQL::Test::Cluster::get_free_port();
my $bouncer_dir = $node->basedir . '/pgbouncer';
mkdir $bouncer_dir or die "mkdir $bouncer_dir: $!";
my $host = $node->host;
my $port = $node->port;
append_to_file("$bouncer_dir/userlist.txt", qq{"$user" ""\n});
append_to_file(
	"$bouncer_dir/pgbouncer.ini", qq{
[databases]
postgres = host=$host port=$port dbname=postgres
single = host=$host port=$port dbname=postgres pool_size=1

[pgbouncer]
listen_addr =
listen_port = $bouncer_port
unix_socket_dir = $host
auth_type = trust
auth_file = $bouncer_dir/userlist.txt
pool_mode = transaction
default_pool_size = $pool_size
reserve_pool_size = 0
max_client_conn = 100
admin_users = $user
logfile = $bouncer_dir/pgbouncer.log
pidfile =
});
my ($bouncer_out, $bouncer_err) = ('', '');
my $bouncer = IPC::Run::start([ $pgbouncer, "$bouncer_dir/pgbouncer.ini" ],
	'>', \$bouncer_out, '2>', \$bouncer_err);
# Stop PgBouncer however the test ends.
END
{
	local $?;
	eval { $bouncer->kill_kill if $bouncer->pumpable; };
}
pump_until($bouncer, IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default),
	\$bouncer_err, qr/process up/)
  or die "PgBouncer did not start: $bouncer_err";

# psql through PgBouncer: the output of the statements, or die.
sub through_bouncer
{
	my ($sql, $dbname) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run(
		[
			'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-h', $host, '-p',
			$bouncer_port, '-d', $dbname // 'postgres'
		],
		'<', \$sql, '>', \$out, '2>', \$err)
	  or die "psql through PgBouncer failed: $err";
	chomp $out;
	return $out;
}

# A session's SET stays on the server connection and reaches the next
# client that gets it; SET LOCAL ends with its transaction (README,
# Configuration).  single has one server connection.
through_bouncer(q{SET jobchunk.lease_timeout = '7s'}, 'single');
is(through_bouncer(q{SHOW jobchunk.lease_timeout}, 'single'),
	'7s', 'a session SET through the pooler reaches the next client');
through_bouncer(q{RESET jobchunk.lease_timeout}, 'single');
through_bouncer(
	q{BEGIN; SET LOCAL jobchunk.lease_timeout = '9s';
	  SELECT count(*) FROM jobchunk.jc_chunks(1, 'processing'); COMMIT},
	'single');
is(through_bouncer(q{SHOW jobchunk.lease_timeout}, 'single'),
	'5min', 'SET LOCAL through the pooler ends with its transaction');

# LISTEN through the pooler stays on the server connection: a NOTIFY goes
# to whichever client holds it then, not to the listener (README, Waking
# workers).  A listener on a direct connection gets the NOTIFY of calls made
# through the pooler.
my $direct = $node->background_psql('postgres');
$direct->query_safe('LISTEN jobchunk');
my ($listen_in, $listen_out, $listen_err) = ('', '', '');
my $listen_timer = IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default);
my $listener = IPC::Run::start(
	[ 'psql', '-XAtq', '-h', $host, '-p', $bouncer_port, '-d', 'single' ],
	'<', \$listen_in, '>', \$listen_out, '2>', \$listen_err, $listen_timer);
$listen_in .= "LISTEN jobchunk;\n\\echo listening\n";
pump_until($listener, $listen_timer, \$listen_out, qr/listening/)
  or die "LISTEN through PgBouncer failed: $listen_err";
like(
	through_bouncer(
		q{INSERT INTO jobchunk.crawl_jobs (id, name) VALUES (4, 'notify');
		  SELECT count(*) FROM jobchunk.jc_create_chunks(4, 10);},
		'single'),
	qr/Asynchronous notification "jobchunk" with payload "4"/,
	'a NOTIFY goes to the client that holds the listening server connection');
$listen_in .= "SELECT 'still';\n\\q\n";
$listener->finish;
is($listen_out, "listening\nstill\n", 'a LISTEN through the pooler is not notified');
like(
	$direct->query_safe('SELECT 1'),
	qr/Asynchronous notification "jobchunk" with payload "4"/,
	'a direct listener is notified of chunks created through the pooler');
$direct->quit;
through_bouncer('UNLISTEN *', 'single');
$node->safe_psql('postgres', 'DELETE FROM jobchunk.crawl_jobs WHERE id = 4');

# The workers.  The claim is a transaction of its own with nothing but the
# claim; the log of it, the completion or failure (with the log of it), the
# retry and the probe are each another transaction, so each may be served
# by another backend.
my $single = q{
\set me :client_id + :offset
\set j random(0, 3)
SELECT coalesce(max(id), 0) AS cid, coalesce(max(lease_token), 0) AS tok,
       coalesce(max(retry_count), 0) AS retries, pg_backend_pid() AS backend,
       coalesce(round(extract(epoch FROM max(lease_expires_at - updated_at)) / 60), 0) AS lease
FROM jobchunk.jc_next_pending(nullif(:j, 0)::bigint, 'w' || :me::text) \gset
\if :cid
SELECT log_claims(:me, ARRAY[:cid]::bigint[], ARRAY[:tok]::bigint[],
                  :lease, :backend, 'single');
\set f random(1, 10)
\if :f = 1
SELECT fail_one(:me, :cid, :tok);
\if :retries < 3
SELECT retry_one(:me, :cid);
\endif
SELECT probe_stale(:me, :cid, :tok);
\elif :f = 2
SELECT jobchunk.jc_heartbeat(:cid::bigint, :tok::bigint) > now();
SELECT complete_one(:me, :cid, :tok);
\else
SELECT complete_one(:me, :cid, :tok);
\endif
\endif
};
my $batch = q{
\set me :client_id + :offset
\set j random(0, 3)
BEGIN;
SET LOCAL jobchunk.lease_timeout = '10min';
SELECT coalesce(i[1], 0) AS id1, coalesce(i[2], 0) AS id2, coalesce(i[3], 0) AS id3,
       coalesce(i[4], 0) AS id4, coalesce(t[1], 0) AS tok1, coalesce(t[2], 0) AS tok2,
       coalesce(t[3], 0) AS tok3, coalesce(t[4], 0) AS tok4, n, lease,
       pg_backend_pid() AS backend
FROM (SELECT array_agg(id ORDER BY id) AS i, array_agg(lease_token ORDER BY id) AS t,
             count(*) AS n,
             coalesce(round(extract(epoch FROM max(lease_expires_at - updated_at)) / 60), 0)
               AS lease
      FROM jobchunk.jc_claim(nullif(:j, 0)::bigint, 4, 'b' || :me::text)) AS c \gset
COMMIT;
\if :n > 0
SELECT log_claims(:me, ARRAY[:id1, :id2, :id3, :id4]::bigint[],
                  ARRAY[:tok1, :tok2, :tok3, :tok4]::bigint[], :lease, :backend, 'batch');
SELECT complete_batch(:me, ARRAY[:id1, :id2, :id3, :id4]::bigint[],
                      ARRAY[:tok1, :tok2, :tok3, :tok4]::bigint[]);
\endif
};
my $reader = q{
\set j random(1, 3)
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT check_counts(:j);
COMMIT;
};
append_to_file($node->basedir . "/single.sql", $single);
append_to_file($node->basedir . "/batch.sql", $batch);
append_to_file($node->basedir . "/reader.sql", $reader);
append_to_file(
	$node->basedir . "/cycle.sql", q{
SELECT id AS cid, lease_token AS tok FROM jobchunk.jc_next_pending(5) \gset
SELECT jobchunk.jc_mark_completed(:cid::bigint, :tok::bigint) IS NOT NULL;
});

# Start pgbench -M $mode through PgBouncer, with $transactions per client.
sub start_workers
{
	my ($mode, $offset, $transactions, $out, $err) = @_;
	my $dir = $node->basedir;
	return IPC::Run::start(
		[
			'pgbench', '--no-vacuum', '-h', $host, '-p', $bouncer_port,
			"--protocol=$mode", "--client=$clients", '--jobs=1',
			"--transactions=$transactions", '--define', "offset=$offset",
			'--file', "$dir/single.sql\@6", '--file', "$dir/batch.sql\@3",
			'--file', "$dir/reader.sql\@1", 'postgres'
		],
		'>', $out, '2>', $err);
}

# Wait for both pgbench; check that each processed all its transactions and
# reported no error.
sub finish_workers
{
	my ($round, $transactions, @runs) = @_;
	foreach my $run (@runs)
	{
		my ($mode, $h, $out, $err) = @$run;
		ok($h->finish, "round $round, -M $mode: pgbench exits with 0");
		my $all = $clients * $transactions;
		like($$out, qr{processed: $all/$all}, "round $round, -M $mode: all transactions processed");
		is($$err, '', "round $round, -M $mode: no error");
		note "pgbench -M $mode:\n$$out";
	}
	return;
}

# Round 1, with the pause and resume of job 2 while it runs.
my $transactions = 600;
my (%out, %err);
my @runs = map {
	my $mode = $_;
	($out{$mode}, $err{$mode}) = ('', '');
	[
		$mode,
		start_workers(
			$mode, $mode eq 'simple' ? 0 : 100,
			$transactions, \$out{$mode}, \$err{$mode}),
		\$out{$mode},
		\$err{$mode}
	]
} qw(simple extended);

# The waits below end early if the workers stop logging outcomes for three
# seconds (pgbench failed): its exit status then fails the test.
my $stalled = q{(EXISTS (SELECT FROM outcomes)
	AND NOT EXISTS (SELECT FROM outcomes WHERE at > clock_timestamp() - interval '3 s'))};
$node->poll_query_until('postgres',
	qq{SELECT (SELECT completed >= 100 FROM jobchunk.jc_statistics(2)) OR $stalled})
  or die 'job 2 did not progress';
through_bouncer(q{SELECT jobchunk.jc_pause_job(2)});
$node->safe_psql('postgres', q{INSERT INTO pauses VALUES (clock_timestamp(), NULL)});
is(through_bouncer(q{SELECT count(*) FROM jobchunk.jc_claim(2, 5)}),
	'0', 'a paused job gives no chunk through the pooler');
# Wait for the others to progress (or run out of pending chunks).
$node->safe_psql('postgres', q{CREATE TABLE before_pause AS
	SELECT count(*) AS completed FROM outcomes o JOIN jobchunk.job_chunks c ON c.id = o.chunk_id
	WHERE c.job_id <> 2 AND o.outcome = 'completed'});
$node->poll_query_until(
	'postgres', qq{
	SELECT (SELECT count(*) FROM outcomes o JOIN jobchunk.job_chunks c ON c.id = o.chunk_id
	        WHERE c.job_id <> 2 AND o.outcome = 'completed')
	       >= (SELECT completed FROM before_pause) + 300
	    OR NOT EXISTS (SELECT FROM jobchunk.job_chunks
	                   WHERE job_id <> 2 AND status = 'pending')
	    OR $stalled})
  or die 'the other jobs did not progress while job 2 was paused';
$node->safe_psql('postgres', q{UPDATE pauses SET resumed_at = clock_timestamp()});
through_bouncer(q{SELECT jobchunk.jc_resume_job(2)});
finish_workers(1, $transactions, @runs);

# More rounds, if chunks are left.
my $round = 1;
while ($node->safe_psql('postgres',
		q{SELECT count(*) FROM jobchunk.job_chunks WHERE status IN ('pending', 'processing')}) ne
	'0')
{
	$round++;
	last if $round > 5;
	@runs = map {
		my $mode = $_;
		($out{$mode}, $err{$mode}) = ('', '');
		[
			$mode,
			start_workers($mode, $mode eq 'simple' ? 0 : 100, 50, \$out{$mode}, \$err{$mode}),
			\$out{$mode},
			\$err{$mode}
		]
	} qw(simple extended);
	finish_workers($round, 50, @runs);
}

# The pooler multiplexed: 16 clients on at most $pool_size backends, one
# backend serving many clients, and a client's claim and outcome often on
# different backends.
is( $node->safe_psql(
		'postgres', q{
	SELECT count(DISTINCT client) || ' clients on ' ||
	       (count(DISTINCT backend) <= } . $pool_size . q{)::text FROM outcomes}),
	2 * $clients . ' clients on true',
	"all clients served by at most $pool_size backends");
ok( $node->safe_psql(
		'postgres', q{
	SELECT count(*) > 0 FROM claims c
	JOIN outcomes o USING (chunk_id, lease_token) WHERE c.backend <> o.backend}),
	'consecutive transactions of a client ran on different backends');

# Every claim went to one client with its own token; every claim ended in
# that client's completion or failure with the token.
is( $node->safe_psql(
		'postgres', q{SELECT count(*) - count(DISTINCT (chunk_id, lease_token)) FROM claims}),
	'0', 'no token was handed out twice');
is( $node->safe_psql(
		'postgres', q{
	SELECT count(*) FROM claims c FULL JOIN outcomes o USING (chunk_id, lease_token)
	WHERE c.client IS DISTINCT FROM o.client}),
	'0', 'each claim ended in exactly one completion or failure, by its own client');
# A chunk was claimed again only after its last claim failed and it was
# retried: claims = retries + 1, and the claim before each claim after the
# first ended in a failure.  (Not compared in time: a token's time part is
# when its claim call began, which can precede the failure when the call
# goes on from its position to the head and finds the chunk retried
# meanwhile.  A claim of a chunk still held would have made the holder's
# outcome refused, as its token was no longer the chunk's, which "each claim
# ended in exactly one completion or failure" above rules out.)
is( $node->safe_psql(
		'postgres', q{
	WITH c AS (SELECT chunk_id, count(*) AS n FROM claims GROUP BY chunk_id),
	     r AS (SELECT chunk_id, count(*) AS n FROM retries GROUP BY chunk_id)
	SELECT count(*) FROM jobchunk.job_chunks AS k
	LEFT JOIN c ON c.chunk_id = k.id LEFT JOIN r ON r.chunk_id = k.id
	WHERE coalesce(c.n, 0) <> 1 + coalesce(r.n, 0) OR k.retry_count <> coalesce(r.n, 0)}),
	'0', 'every chunk was claimed once, and once more after each retry');
is( $node->safe_psql(
		'postgres', q{
	SELECT count(*) FROM (
		SELECT c.chunk_id, lag(o.outcome) OVER w AS previous_outcome
		FROM claims c JOIN outcomes o USING (chunk_id, lease_token)
		WINDOW w AS (PARTITION BY c.chunk_id ORDER BY c.lease_token)) AS s
	WHERE previous_outcome <> 'failed'}),
	'0', 'no chunk was claimed again unless its previous claim had failed');
is( $node->safe_psql(
		'postgres', q{
	WITH d AS (SELECT chunk_id, count(*) AS n, max(lease_token) AS token FROM outcomes
	           WHERE outcome = 'completed' GROUP BY chunk_id)
	SELECT count(*) FROM jobchunk.job_chunks AS k LEFT JOIN d ON d.chunk_id = k.id
	WHERE (k.status = 'completed') <> (coalesce(d.n, 0) = 1)
	   OR (k.status = 'completed' AND k.lease_token <> d.token)}),
	'0', 'every completed chunk was completed once, with its last token');
is( $node->safe_psql(
		'postgres', q{
	SELECT count(*) || '/' || count(*) FILTER (WHERE refused) || '/' ||
	       (SELECT count(*) FROM outcomes WHERE outcome = 'failed') FROM probes}),
	join('/', ($node->safe_psql('postgres', q{SELECT count(*) FROM outcomes WHERE outcome = 'failed'})) x 3),
	'every completion with the token of a failed claim was refused');

# No chunk of job 2 was claimed while it was paused: a claim's token is at
# least the time of the claim, in microseconds since 2000.
is( $node->safe_psql(
		'postgres', q{
	SELECT count(*) FILTER (WHERE k.job_id = 2) || '/' ||
	       (count(*) FILTER (WHERE k.job_id <> 2) > 0)
	FROM claims c JOIN jobchunk.job_chunks k ON k.id = c.chunk_id, pauses p
	WHERE c.lease_token > (extract(epoch FROM p.paused_at - '2000-01-01 UTC') * 1000000)::bigint
	  AND c.lease_token < (extract(epoch FROM p.resumed_at - '2000-01-01 UTC') * 1000000)::bigint}),
	'0/true', 'no chunk of the paused job was claimed while it was paused; others were');

# SET LOCAL stayed in the batch claims' transactions: the claims of any
# other transaction on the same backends got the default lease.
is( $node->safe_psql(
		'postgres', q{
	SELECT string_agg(DISTINCT script || ' ' || lease_minutes, ', ' ORDER BY script || ' ' || lease_minutes)
	FROM claims}),
	'batch 10, single 5',
	'SET LOCAL leases stayed in their transactions');

# The counts, and the end.
is($node->safe_psql('postgres', $JOBS_WHOSE_STATISTICS_DIFFER),
	'0', 'jc_statistics equals the rows');
is( $node->safe_psql(
		'postgres', q{
	SELECT count(*) FROM jobchunk.crawl_jobs j, check_counts(j.id)}),
	'3', 'jc_progress equals the rows');
is( $node->safe_psql(
		'postgres', q{
	SELECT count(*) || '/' || count(*) FILTER (WHERE status IN ('completed', 'failed'))
	FROM jobchunk.job_chunks}),
	"$chunks/$chunks", "every chunk is finished, in $round rounds");
is( $node->safe_psql(
		'postgres', q{
	SELECT bool_and(is_complete) FROM jobchunk.crawl_jobs j, jobchunk.jc_progress(j.id)}),
	't', 'every job is complete');
cmp_ok(
	$node->safe_psql(
		'postgres', q{SELECT count(*) FROM jobchunk.job_chunks WHERE retry_count > 0}),
	'>', 0, 'some chunks were failed and retried');

# The asynchronous commit of claims (commit.c) is decided per transaction:
# on one server connection (single) shared by four clients, each claiming a
# chunk and then completing it in another transaction, every completion
# waits for its WAL flush, and no claim does.  pg_stat_wal counts the WAL
# writes; a backend reports its counts when it exits, so PgBouncer closes
# its server connections (RECONNECT) before each reading.
sub wal_writes
{
	through_bouncer('RECONNECT', 'pgbouncer');
	$node->poll_query_until(
		'postgres', q{
		SELECT count(*) = 0 FROM pg_stat_activity
		WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()})
	  or die 'PgBouncer did not close its server connections';
	return $node->safe_psql('postgres', 'SELECT wal_write FROM pg_stat_wal');
}
# pg_stat_wal is from PostgreSQL 14.
if ($node->safe_psql('postgres', 'SHOW server_version_num') < 140000)
{
	diag('no pg_stat_wal before PostgreSQL 14: the asynchronous commits are not checked');
	$bouncer->kill_kill;
	$node->stop;
	done_testing();
	exit 0;
}
my $cycles = 4 * 150;
$node->safe_psql(
	'postgres', qq{
	INSERT INTO jobchunk.crawl_jobs (id, name) VALUES (5, 'commits');
	SET jobchunk.chunk_size = 1;
	SELECT count(*) FROM jobchunk.jc_create_chunks(5, $cycles);
});
my $before = wal_writes();
$node->command_checks_all(
	[
		'pgbench', '--no-vacuum', '-h', $host, '-p', $bouncer_port,
		'--protocol=simple', '--client=4', '--jobs=1', '--transactions=150',
		'--file', $node->basedir . '/cycle.sql', 'single'
	],
	0,
	[qr{processed: $cycles/$cycles}],
	[qr/\A\z/],
	'four clients claim and complete on one server connection');
my $writes = wal_writes() - $before;
note "$writes WAL writes for $cycles claims and $cycles completions";
is($node->safe_psql('postgres', q{SELECT completed FROM jobchunk.jc_statistics(5)}),
	$cycles, 'every claim was completed');
cmp_ok($writes, '>=', 0.9 * $cycles, 'the completions waited for their WAL flush');
cmp_ok($writes, '<', 1.5 * $cycles, 'claims did not wait for theirs');

$bouncer->kill_kill;
$node->stop;
done_testing();
