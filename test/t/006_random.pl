# A seeded randomised test.  Four pgbench clients make random sequences of
# every public call, valid and invalid, against a few small jobs: claims
# with random short leases, completions with the right, a stale, a wrong or
# no token, batch completions (valid and malformed), failures, retries,
# heartbeats (one or a batch), releases, pause, resume and cancel, a second
# jc_create_chunks, reads, unknown ids and NULLs.  Each call runs through
# attempt(), which records its SQLSTATE and, in a REPEATABLE READ
# transaction, whether a failed call left every row as it was.  After each
# round the invariants are checked:
#
# - every chunk is in one of the four statuses, with a lease exactly while
#   processing, and a retry count within jobchunk.max_retries;
# - retry counts and lease tokens never go down, and completed is final;
# - every lease token of a chunk was handed out by exactly one claim;
# - a fenced completion succeeded only with the chunk's current token, and
#   with one token per chunk (stale tokens never succeed; a repeat with the
#   token that completed the chunk returns it as it is);
# - jc_statistics equals the table for every job;
# - a cancelled job has no pending chunk;
# - every failed call changed nothing, with one of the documented
#   SQLSTATEs, and the calls that must fail always did.
#
# Set JOBCHUNK_SEED to replay a run (the sequence of calls is replayed; the
# interleaving of the clients is not).

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use JobchunkTest;

my $rounds = 6;
my $clients = 4;
my $calls_per_client = 250;    # per round
my $max_retries = 3;

my $seed = $ENV{JOBCHUNK_SEED} // time();
note "seed $seed (set JOBCHUNK_SEED=$seed to replay)";
srand($seed);

my $node = PostgreSQL::Test::Cluster->new('random');
$node->init;
$node->append_conf('postgresql.conf', 'deadlock_timeout = 100ms');
$node->start;

$node->safe_psql(
	'postgres', qq{
	CREATE EXTENSION jobchunk;
	ALTER DATABASE postgres SET jobchunk.max_retries = $max_retries;
	ALTER DATABASE postgres SET jobchunk.lease_timeout = '1s';
	ALTER DATABASE postgres SET jobchunk.chunk_size = 10;

	-- What the clients did: every call and its outcome; every claim that
	-- succeeded (the client's memory of what it holds); every fenced
	-- completion or failure that succeeded, with the token it was given;
	-- every chunk given back.
	CREATE TABLE calls (round int, client int, kind text, sqlstate text, unchanged boolean);
	CREATE TABLE claims (seq bigserial, client int, chunk_id bigint, lease_token bigint,
	                     taken_back boolean);
	CREATE TABLE fenced (chunk_id bigint, lease_token bigint, status text);
	CREATE TABLE released (chunk_id bigint, status text);
	CREATE TABLE snapshots (round int, chunk_id bigint, status text, retry_count int,
	                        lease_token bigint);

	-- All of jobchunk's rows, as one value.
	CREATE FUNCTION fingerprint() RETURNS text LANGUAGE sql AS \$\$
		SELECT md5((SELECT string_agg(j::text, ',' ORDER BY j.id) FROM jobchunk.crawl_jobs j)
		           || (SELECT coalesce(string_agg(c::text, ',' ORDER BY c.id), '')
		               FROM jobchunk.job_chunks c)
		           || (SELECT coalesce(string_agg(k::text, ',' ORDER BY k.job_id, k.stripe), '')
		               FROM jobchunk.job_counts k))
	\$\$;

	-- Run one call (args are \$1, the client \$2) and record its outcome.  In
	-- a REPEATABLE READ transaction every statement sees the same snapshot,
	-- so a failed call changed nothing if the fingerprint is the same
	-- after it as before it.
	CREATE FUNCTION attempt(round int, client int, kind text, call text, args bigint[])
	RETURNS text LANGUAGE plpgsql AS \$\$
	DECLARE
		checked boolean := current_setting('transaction_isolation') = 'repeatable read';
		before text;
		state text := '00000';
	BEGIN
		IF checked THEN
			before := fingerprint();
		END IF;
		BEGIN
			EXECUTE call USING args, client;
		EXCEPTION WHEN OTHERS THEN
			state := SQLSTATE;
		END;
		INSERT INTO calls VALUES (round, client, kind, state,
			CASE WHEN state <> '00000' AND checked THEN fingerprint() = before END);
		RETURN state;
	END
	\$\$;
});

# The calls.  In a call, {job} is one of the round's jobs, {chunk} one of
# its chunks, {lease} a random lease of 20 ms to 2 s, {n} 1 to 3, {task} the
# client's task id; {held} and {token} are the chunk and token of the
# client's last claim, or of one of the two before it (0 and 0 if it has
# none); {log_claims} records the claims of a call as the client's.  Each
# kind has a weight and what must happen: 'any' outcome, 'ok' (must
# succeed), or the SQLSTATE it must fail with.
my %kinds = (
	next_pending => [
		10, 'any',
		q{WITH c AS (SELECT * FROM jobchunk.jc_next_pending({job}, {task}, {lease}))
		  {log_claims}}
	],
	next_pending_any_job => [
		3, 'any',
		q{WITH c AS (SELECT * FROM jobchunk.jc_next_pending(NULL, {task}, {lease}))
		  {log_claims}}
	],
	next_pending_default_lease => [
		1, 'any',
		q{WITH c AS (SELECT * FROM jobchunk.jc_next_pending({job}))
		  {log_claims}}
	],
	claim_batch => [
		5, 'any',
		q{WITH c AS (SELECT * FROM jobchunk.jc_claim({job}, {n}, {task}, {lease}))
		  {log_claims}}
	],
	mark_processing => [
		3, 'any',
		q{WITH c AS (SELECT * FROM jobchunk.jc_mark_processing({chunk}, {task}, {lease}))
		  {log_claims}}
	],
	complete_fenced => [
		10, 'any',
		q{WITH d AS (SELECT * FROM jobchunk.jc_mark_completed({held}, {token}))
		  INSERT INTO fenced SELECT id, {token}, status FROM d}
	],
	complete_stale_token => [
		3, '55000|P0002',
		q{WITH d AS (SELECT * FROM jobchunk.jc_mark_completed({held}, {token} - 1))
		  INSERT INTO fenced SELECT id, {token} - 1, status FROM d}
	],
	complete_wrong_token => [
		1, '55000|P0002',
		q{WITH d AS (SELECT * FROM jobchunk.jc_mark_completed({held}, {token} + 1000000))
		  INSERT INTO fenced SELECT id, {token} + 1000000, status FROM d}
	],
	complete_unfenced => [ 2, 'any', q{SELECT jobchunk.jc_mark_completed({held})} ],
	complete_batch => [
		4, 'any',
		q{WITH {mine}, d AS (SELECT * FROM jobchunk.jc_mark_completed({mine_arrays}))
		  INSERT INTO fenced SELECT d.id, m.lease_token, d.status
		  FROM d JOIN mine AS m ON m.chunk_id = d.id}
	],
	complete_batch_unfenced =>
	  [ 1, 'any', q{SELECT * FROM jobchunk.jc_mark_completed(ARRAY[{held}, {chunk}])} ],
	complete_batch_repeated =>
	  [ 1, '22023', q{SELECT * FROM jobchunk.jc_mark_completed(ARRAY[{held}, {chunk}, {held}])} ],
	complete_batch_unmatched => [
		1, '22023',
		q{SELECT * FROM jobchunk.jc_mark_completed(ARRAY[{held}, {chunk}], ARRAY[{token}])} ],
	complete_batch_null => [
		1, '22023',
		q{SELECT * FROM jobchunk.jc_mark_completed(ARRAY[{held}, NULL], ARRAY[{token}, 1])} ],
	fail_fenced => [
		4, 'any',
		q{WITH d AS (SELECT * FROM jobchunk.jc_mark_failed({held}, 'random failure', {token}))
		  INSERT INTO fenced SELECT id, {token}, status FROM d}
	],
	fail_unfenced => [ 1, 'any', q{SELECT jobchunk.jc_mark_failed({chunk}, 'random failure')} ],
	fail_stale_token =>
	  [ 1, '55000|P0002', q{SELECT jobchunk.jc_mark_failed({held}, 'stale failure', {token} - 1)} ],
	retry => [ 5, 'any', q{SELECT jobchunk.jc_retry({chunk})} ],
	retry_held => [ 2, 'any', q{SELECT jobchunk.jc_retry({held})} ],
	heartbeat => [ 4, 'any', q{SELECT jobchunk.jc_heartbeat({held}, {token}, {lease})} ],
	heartbeat_default => [ 1, 'any', q{SELECT jobchunk.jc_heartbeat({held}, {token})} ],
	heartbeat_stale_token =>
	  [ 1, '55000|P0002', q{SELECT jobchunk.jc_heartbeat({held}, {token} - 1)} ],
	heartbeat_batch => [
		3, 'any',
		q{WITH {mine} SELECT * FROM jobchunk.jc_heartbeat_batch({mine_arrays}, {lease})}
	],
	# A stale token's lease is never extended: a division by zero if it is.
	heartbeat_batch_stale_token => [
		1, 'ok',
		q{SELECT 1 / (lease_expires_at IS NULL)::int
		  FROM jobchunk.jc_heartbeat_batch(ARRAY[{held}], ARRAY[{token} - 1])} ],
	heartbeat_batch_null =>
	  [ 1, '22023', q{SELECT * FROM jobchunk.jc_heartbeat_batch(ARRAY[{held}, NULL], ARRAY[{token}, 1])} ],
	release => [
		2, 'any',
		q{WITH {mine}, r AS (SELECT * FROM jobchunk.jc_release({mine_arrays}))
		  INSERT INTO released SELECT id, status FROM r}
	],
	release_unfenced => [ 1, 'any', q{SELECT * FROM jobchunk.jc_release(ARRAY[{chunk}], NULL)} ],
	# A stale token never releases a chunk: a division by zero if it does.
	release_stale_token => [
		1, 'ok',
		q{SELECT 1 / (id IS NULL)::int FROM jobchunk.jc_release(ARRAY[{held}], ARRAY[{token} - 1])} ],
	release_null =>
	  [ 1, '22023', q{SELECT * FROM jobchunk.jc_release(ARRAY[{held}, NULL], ARRAY[{token}, 1])} ],
	pause => [ 2, 'any', q{SELECT jobchunk.jc_pause_job({job})} ],
	resume => [ 3, 'any', q{SELECT jobchunk.jc_resume_job({job})} ],
	# Only the last job of a round is ever cancelled.
	cancel => [ 1, 'any', q{SELECT jobchunk.jc_cancel_job({last_job})} ],
	create_again => [ 1, '55000', q{SELECT * FROM jobchunk.jc_create_chunks({job}, 100)} ],
	read_chunks => [
		2, 'ok',
		q{SELECT * FROM jobchunk.jc_chunks({job}) AS a,
		  LATERAL jobchunk.jc_chunks({job}, a.status) AS b, LATERAL jobchunk.jc_chunk(b.id) AS c}
	],
	read_statistics => [
		2, 'ok',
		q{SELECT * FROM jobchunk.jc_statistics({job}), jobchunk.jc_progress({job}),
		  jobchunk.jc_is_complete({job})}
	],
	read_unknown_chunk => [ 1, 'ok', q{SELECT * FROM jobchunk.jc_chunk(999999)} ],
	read_unknown_status => [ 1, '22023', q{SELECT * FROM jobchunk.jc_chunks({job}, 'finished')} ],
	unknown_job_statistics => [ 1, 'P0002', q{SELECT * FROM jobchunk.jc_statistics(999999)} ],
	unknown_job_claim => [ 1, 'P0002', q{SELECT * FROM jobchunk.jc_next_pending(999999)} ],
	unknown_job_pause => [ 1, 'P0002', q{SELECT jobchunk.jc_pause_job(999999)} ],
	unknown_job_create => [ 1, 'P0002', q{SELECT * FROM jobchunk.jc_create_chunks(999999, 100)} ],
	unknown_chunk_complete =>
	  [ 1, 'P0002', q{SELECT jobchunk.jc_mark_completed(999999::bigint, 1)} ],
	unknown_chunk_retry => [ 1, 'P0002', q{SELECT jobchunk.jc_retry(999999)} ],
	unknown_chunk_processing => [ 1, 'P0002', q{SELECT jobchunk.jc_mark_processing(999999)} ],
	null_chunk_complete =>
	  [ 1, '22023', q{SELECT jobchunk.jc_mark_completed(NULL::bigint, {token})} ],
	null_error_message => [ 1, '22023', q{SELECT jobchunk.jc_mark_failed({held}, NULL)} ],
	null_heartbeat_token => [ 1, '22023', q{SELECT jobchunk.jc_heartbeat({held}, NULL)} ],
	null_claim_count => [ 1, '22023', q{SELECT * FROM jobchunk.jc_claim({job}, NULL)} ],
	null_retry => [ 1, '22023', q{SELECT jobchunk.jc_retry(NULL)} ],
	null_pause => [ 1, '22023', q{SELECT jobchunk.jc_pause_job(NULL)} ],
	null_create => [ 1, '22023', q{SELECT * FROM jobchunk.jc_create_chunks({job}, NULL)} ],
	claim_zero => [ 1, '22023', q{SELECT * FROM jobchunk.jc_claim({job}, 0)} ],
	negative_lease =>
	  [ 1, '22023', q{SELECT * FROM jobchunk.jc_next_pending({job}, 'c', interval '-1 second')} ],
	long_task_id =>
	  [ 1, '22023', q{SELECT * FROM jobchunk.jc_mark_processing({chunk}, repeat('x', 256))} ],);

# The arguments every call gets, as $1 (the client is $2), and the
# placeholders naming them.
my $args = 'ARRAY[:job, :chunk, :lease_ms, :held, :token, :n, :last_job]';
my %placeholders = (
	job => '$1[1]',
	chunk => '$1[2]',
	lease => q{($1[3] * interval '1 millisecond')},
	held => '$1[4]',
	token => '$1[5]',
	n => '$1[6]::int',
	last_job => '$1[7]',
	client => '$2',
	task => q{'c' || $2},
	log_claims => q{INSERT INTO claims (client, chunk_id, lease_token, taken_back)
	                SELECT $2, id, lease_token, error_message = 'lease expired' FROM c},
	# The client's last $1[6] claims, as a CTE "mine", and as the arguments
	# of a batch call: their ids and tokens, in the order claimed.
	mine => q{mine AS (SELECT seq, chunk_id, lease_token FROM claims
	                   WHERE client = $2 ORDER BY seq DESC LIMIT $1[6]::int)},
	mine_arrays => q{ARRAY(SELECT chunk_id FROM mine ORDER BY seq),
	                 ARRAY(SELECT lease_token FROM mine ORDER BY seq)});

# One pgbench script per kind: pick the arguments, recall one of the
# client's last claims, and make the call in a transaction of either
# isolation level.
my %scripts;
foreach my $kind (sort keys %kinds)
{
	my ($weight, undef, $call) = @{ $kinds{$kind} };
	$call =~ s/\{(\w+)\}/$placeholders{$1} \/\/ die "unknown placeholder $1"/ge;
	$scripts{"006_$kind.sql\@$weight"} = qq{
\\set job random(:first_job, :last_job)
\\set chunk random(:first_chunk, :last_chunk)
\\set lease_ms random(20, 2000)
\\set n random(1, 3)
\\set back greatest(random(-2, 2), 0)
SELECT coalesce(max(chunk_id), 0) AS held, coalesce(max(lease_token), 0) AS token
FROM (SELECT chunk_id, lease_token FROM claims WHERE client = :client_id
      ORDER BY seq DESC LIMIT 1 OFFSET :back) AS recalled \\gset
\\set repeatable random(0, 1)
\\if :repeatable
BEGIN ISOLATION LEVEL REPEATABLE READ;
\\else
BEGIN;
\\endif
SELECT attempt(:round, :client_id, '$kind', \$call\$$call\$call\$, $args);
COMMIT;
};
}

# The invariants, each a query counting what breaks it.  :round is the
# round just finished.
my %invariants = (
	'each chunk in one valid status, leased exactly while processing' => q{
		SELECT count(*) FROM jobchunk.job_chunks
		WHERE status IS NULL
		   OR status NOT IN ('pending', 'processing', 'completed', 'failed')
		   OR (status = 'processing') <> (lease_expires_at IS NOT NULL)},
	'retry counts within jobchunk.max_retries' => qq{
		SELECT count(*) FROM jobchunk.job_chunks
		WHERE retry_count NOT BETWEEN 0 AND $max_retries},
	'retry counts and tokens never go down, completed is final' => q{
		SELECT count(*)
		FROM snapshots AS s LEFT JOIN jobchunk.job_chunks AS c ON c.id = s.chunk_id
		WHERE s.round = :round - 1
		  AND (c.id IS NULL
		       OR c.retry_count < s.retry_count
		       OR c.lease_token < s.lease_token
		       OR (s.status = 'completed'
		           AND (c.status, c.lease_token) <> ('completed', s.lease_token)))},
	'each token handed out by exactly one claim' => q{
		SELECT count(*)
		FROM jobchunk.job_chunks AS c
		LEFT JOIN (SELECT chunk_id, count(*) AS claims, count(DISTINCT lease_token) AS tokens,
		                  max(lease_token) AS last_token
		           FROM claims GROUP BY chunk_id) AS l ON l.chunk_id = c.id
		WHERE (coalesce(l.claims, 0), c.lease_token)
		      <> (coalesce(l.tokens, 0), coalesce(l.last_token, 0))},
	'fenced completions only with the current token, one token per chunk' => q{
		SELECT count(*)
		FROM (SELECT chunk_id, count(DISTINCT lease_token) AS tokens, max(lease_token) AS token
		      FROM fenced WHERE status = 'completed' GROUP BY chunk_id) AS f
		JOIN jobchunk.job_chunks AS c ON c.id = f.chunk_id
		WHERE f.tokens > 1 OR c.status <> 'completed' OR c.lease_token <> f.token},
	'a fenced failure at most once per claim' => q{
		SELECT count(*) FROM (SELECT FROM fenced WHERE status = 'failed'
		                      GROUP BY chunk_id, lease_token HAVING count(*) > 1) AS twice},
	'the statistics equal the table, for every job' => $JOBS_WHOSE_STATISTICS_DIFFER,
	'a cancelled job has no pending chunk' => q{
		SELECT count(*) FROM jobchunk.job_chunks AS c JOIN jobchunk.crawl_jobs AS j ON j.id = c.job_id
		WHERE j.state = 'cancelled' AND c.status = 'pending'},
	'every failed call changed nothing' => q{
		SELECT count(*) FROM calls WHERE unchanged IS FALSE},
	'every error has a documented SQLSTATE' => q{
		SELECT count(*) FROM calls
		WHERE sqlstate NOT IN ('00000', 'P0002', '22023', '55000', '40001')
		  AND NOT (kind = 'cancel' AND sqlstate = '0A000')},);

# The calls that must fail did, with their SQLSTATE, and the calls that
# must succeed did; either may instead lose a race in a REPEATABLE READ
# transaction (40001: a row the call locks or changes was changed by
# another client after the call's snapshot was taken; seen once, for a
# release with a stale token).  No call may deadlock: each is alone in its
# transaction.
my $expected = join(
	",\n", map { "('$_', '$kinds{$_}[1]')" }
	  grep { $kinds{$_}[1] ne 'any' } sort keys %kinds);
$invariants{'calls that must fail or succeed did'} = qq{
	SELECT count(*)
	FROM calls JOIN (VALUES $expected) AS e(kind, outcome) USING (kind)
	WHERE CASE e.outcome
	      WHEN 'ok' THEN sqlstate NOT IN ('00000', '40001')
	      ELSE sqlstate !~ ('^(' || e.outcome || '|40001)\$') END};

foreach my $round (1 .. $rounds)
{
	# Three new small jobs at random priorities; the last one may be
	# cancelled.
	my $first_job = 3 * $round - 2;
	my $last_job = 3 * $round;
	foreach my $job ($first_job .. $last_job)
	{
		my $images = 50 + int(rand(200));
		my $priority = int(rand(11));
		$node->safe_psql(
			'postgres', qq{
			INSERT INTO jobchunk.crawl_jobs (id, name) VALUES ($job, 'round $round');
			SELECT count(*) FROM jobchunk.jc_create_chunks($job, $images, $priority);});
	}
	my ($first_chunk, $last_chunk) = split(
		/\|/,
		$node->safe_psql(
			'postgres', qq{
		SELECT min(id), max(id) FROM jobchunk.job_chunks WHERE job_id >= $first_job}));

	my $total = $clients * $calls_per_client;
	$node->pgbench(
		"--no-vacuum --client=$clients --jobs=2 --transactions=$calls_per_client "
		  . "--random-seed=@{[$seed + $round]} --define=round=$round "
		  . "--define=first_job=$first_job --define=last_job=$last_job "
		  . "--define=first_chunk=$first_chunk --define=last_chunk=$last_chunk",
		0,
		[qr{processed: $total/$total}],
		[],
		"round $round: $total random calls",
		{ map { (s/\.sql/_$round.sql/r) => $scripts{$_} } keys %scripts });

	foreach my $name (sort keys %invariants)
	{
		(my $query = $invariants{$name}) =~ s/:round/$round/g;
		is($node->safe_psql('postgres', $query), '0', "round $round: $name");
	}
	$node->safe_psql(
		'postgres', qq{
		INSERT INTO snapshots
		SELECT $round, id, status, retry_count, lease_token FROM jobchunk.job_chunks});
}

# The runs did what they were meant to: every kind of call was made, and
# the interesting outcomes happened.
is( $node->safe_psql(
		'postgres', q{SELECT string_agg(kind, ',' ORDER BY kind) FROM (
			SELECT DISTINCT kind FROM calls) AS k}),
	join(',', sort keys %kinds),
	'every kind of call was made');
my %outcomes = (
	'failed calls checked for changes' => 'SELECT count(*) FROM calls WHERE unchanged',
	'successful claims' => 'SELECT count(*) FROM claims',
	'claims of chunks taken back from expired leases' =>
	  'SELECT count(*) FROM claims WHERE taken_back',
	'fenced completions' => q{SELECT count(*) FROM fenced WHERE status = 'completed'},
	'fenced failures' => q{SELECT count(*) FROM fenced WHERE status = 'failed'},
	'chunks released' => q{SELECT count(*) FROM released WHERE status = 'pending'},
	'stale tokens refused' => q{SELECT count(*) FROM calls
		WHERE kind = 'complete_stale_token' AND sqlstate = '55000'},
	'successful retries' => q{SELECT count(*) FROM calls
		WHERE kind IN ('retry', 'retry_held') AND sqlstate = '00000'},
	'jobs cancelled' => q{SELECT count(*) FROM jobchunk.crawl_jobs WHERE state = 'cancelled'},);
foreach my $name (sort keys %outcomes)
{
	cmp_ok($node->safe_psql('postgres', $outcomes{$name}), '>', 0, "there were $name");
}
note $node->safe_psql(
	'postgres', q{
	SELECT string_agg(kind || ': ' || outcomes, E'\n' ORDER BY kind)
	FROM (SELECT kind, string_agg(sqlstate || ' x' || n, ', ' ORDER BY sqlstate) AS outcomes
	      FROM (SELECT kind, sqlstate, count(*) AS n FROM calls GROUP BY 1, 2) AS c
	      GROUP BY kind) AS k});

$node->stop;
done_testing();
