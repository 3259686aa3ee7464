#!/usr/bin/env python3
"""A batch worker for jobchunk, in Python with psycopg2.

It claims up to --batch chunks of a job at a time under a lease of --lease
seconds and works on them one after the other.  Between two chunks, once a
third of a lease has passed since the last one, it keeps the leases of the
chunks it still holds (those already done too, until they are completed)
with jc_heartbeat_batch, and drops the chunks whose leases it lost; so the
lease must be longer than 1.5 times the longest chunk's work.  At the end
of the batch it completes the chunks done in one call.  With nothing to
claim it waits for a NOTIFY jobchunk, or --idle seconds (an expiring lease
sends none).  Behind a PL/Proxy database none comes on --dsn, since the
shards send them: give it the shards with --listen, on which it only
listens (one that cannot be reached is tried again at the next wait, and
meanwhile --idle bounds the wait; put a connect_timeout in each DSN, or a
host that does not answer holds the wait up).  With --until-done it stops
once the job is complete (no chunk left pending or processing) or gone
(purged); without it, a job that does not exist is an error (exit status
1).

On SIGTERM or SIGINT it stops taking work: it finishes the chunk it is
working on, completes the chunks done, gives back the chunks of the batch
it has not started with jc_release (pending again at once, no retry
counted, for other workers), and exits with status 0.  A wait for a NOTIFY
ends at once.  (The count of chunks released it prints can be short: a
release made again after its answer was lost returns none of the chunks
the first one gave back.)  A second signal stops it at once, with status
1, wherever it is (in the work, or trying to reach a server that is down):
the chunks it holds, done or not, come back when their leases expire.

Each call is a transaction of its own (autocommit), as the README advises.
After a lost connection, or an update of the extension (0A000), it
reconnects and makes the call again; behind a PL/Proxy database, it makes
the call again while the shard cannot be reached.  That is safe for each
call it makes: a completion repeated with its tokens returns the chunks
as they are, a heartbeat extends again, a release repeated leaves alone
the chunks it gave back (no longer processing), and a claim whose answer
was lost leaves its chunks to their leases.  A deadlock or serialization
failure (40P01, 40001) is retried the same way.  Only the first connection
is not retried, nor a shard the first call could not reach, so that a
wrong --dsn or PL/Proxy user mapping fails at once.

    python3 examples/worker.py --dsn 'dbname=crawl' --job 1 --until-done

The work itself is process(): replace it with yours.
"""

import argparse
import logging
import os
import select
import signal
import time

import psycopg2

# Errors after which the call is made again: the connection's (on a new
# connection), an update of the extension (likewise), two that PostgreSQL
# asks to retry, and, behind a PL/Proxy database, those of a shard the
# proxy cannot reach, as its claims of any job pass over such a shard:
# PL/Proxy's own (XX000, "PL/Proxy function ...": a connection refused or
# lost, a timeout) and a shard's 57P01 and 57P02 (its backend terminated,
# its server shutting down).
RECONNECT = ("0A000",)
RETRY = ("40001", "40P01")
SHARD_DOWN = ("57P01", "57P02")


def shard_down(e):
    return e.pgcode in SHARD_DOWN or \
        (e.pgcode == "XX000" and
         (e.diag.message_primary or "").startswith("PL/Proxy function "))


def start_listening(conn):
    """Put conn in autocommit, and LISTEN jobchunk on it."""
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("LISTEN jobchunk")


def process(image_range, work_seconds):
    """Stand-in for the real work on the images of one chunk."""
    time.sleep(work_seconds)
    return image_range["end"] - image_range["start"] + 1


class Worker:
    def __init__(self, args):
        self.args = args
        self.conn = None
        self.completed = 0
        self.released = 0
        self.reached = False        # whether a call has succeeded
        self.stopping = False       # set by a SIGTERM or SIGINT
        self.wakeup = None          # read end of the signal wakeup fd
        self.listeners = {}         # each --listen DSN's connection, or None

    def connect(self):
        self.conn = psycopg2.connect(self.args.dsn)
        start_listening(self.conn)

    def listen(self):
        """LISTEN on each --listen DSN that has no connection yet."""
        for dsn in self.args.listen:
            conn = self.listeners.get(dsn)
            if conn is not None and conn.closed == 0:
                continue
            try:
                conn = psycopg2.connect(dsn)
                start_listening(conn)
            except psycopg2.Error as e:
                logging.warning("%s: cannot listen on %s: %s",
                                self.args.name, dsn, str(e).strip())
                conn = None
            self.listeners[dsn] = conn

    def query(self, sql, args=()):
        """Run one statement; make it again after the errors above."""
        pause = 0.5
        while True:
            try:
                if self.conn is None:
                    self.connect()
                with self.conn.cursor() as cur:
                    cur.execute(sql, args)
                    rows = cur.fetchall()
                self.reached = True
                return rows
            except psycopg2.Error as e:
                lost = self.conn is None or self.conn.closed != 0
                if not (lost or e.pgcode in RECONNECT + RETRY or
                        (shard_down(e) and self.reached)):
                    raise
                logging.warning("%s: %s; trying again in %.1f s",
                                self.args.name, str(e).strip(), pause)
                if lost or e.pgcode in RECONNECT:
                    if self.conn is not None:
                        self.conn.close()
                    self.conn = None
                time.sleep(pause)
                pause = min(pause * 2, 30)

    def claim(self):
        return self.query(
            "SELECT id, image_range, lease_token"
            " FROM jobchunk.jc_claim(%s, %s, %s, make_interval(secs => %s))",
            (self.args.job, self.args.batch, self.args.name, self.args.lease))

    def heartbeat(self, held):
        """Extend the leases of held ({id: token}); forget the lost ones."""
        rows = self.query(
            "SELECT id, lease_expires_at"
            " FROM jobchunk.jc_heartbeat_batch(%s, %s, make_interval(secs => %s))",
            (list(held), list(held.values()), self.args.lease))
        for chunk_id, expires in rows:
            if expires is None:
                del held[chunk_id]

    def complete(self, finished):
        """Complete finished ({id: token}), all or none: after a refusal, a
        heartbeat names the chunks lost meanwhile, which are dropped."""
        while finished:
            try:
                rows = self.query(
                    "SELECT id FROM jobchunk.jc_mark_completed(%s::bigint[], %s::bigint[])",
                    (list(finished), list(finished.values())))
                self.completed += len(rows)
                return
            except psycopg2.Error as e:
                if e.pgcode not in ("55000", "P0002"):
                    raise
                before = len(finished)
                self.heartbeat(finished)
                if len(finished) == before:
                    raise

    def release(self, unstarted):
        """Give back unstarted ({id: token}), those still held."""
        if unstarted:
            rows = self.query(
                "SELECT id FROM jobchunk.jc_release(%s::bigint[], %s::bigint[])",
                (list(unstarted), list(unstarted.values())))
            self.released += len(rows)

    def fail(self, chunk_id, message, token):
        try:
            self.query("SELECT jobchunk.jc_mark_failed(%s, %s, %s)",
                       (chunk_id, message, token))
        except psycopg2.Error as e:
            if e.pgcode not in ("55000", "P0002"):
                raise               # else lost meanwhile: nothing to record

    def run_batch(self, claimed):
        held = {chunk_id: token for chunk_id, _, token in claimed}
        finished_ids = []
        last_beat = time.monotonic()
        for chunk_id, image_range, token in claimed:
            if self.stopping:
                break
            if time.monotonic() - last_beat > self.args.lease / 3:
                self.heartbeat(held)
                last_beat = time.monotonic()
            if chunk_id not in held:
                continue            # lost: another worker has it now
            logging.info("%s: working on chunk %d", self.args.name, chunk_id)
            try:
                process(image_range, self.args.work_seconds)
            except Exception as e:  # the work failed: record it on the chunk
                del held[chunk_id]
                self.fail(chunk_id, f"{type(e).__name__}: {e}"[:1000], token)
                continue
            finished_ids.append(chunk_id)
        # Completed first: after a kill, work done would be lost, while the
        # chunks not started come back anyway once their leases expire.
        self.complete({chunk_id: held.pop(chunk_id)
                       for chunk_id in finished_ids if chunk_id in held})
        self.release(held)          # the chunks not started, if stopping

    def job_complete(self):
        return self.query("SELECT is_complete FROM jobchunk.jc_progress(%s)",
                          (self.args.job,))[0][0]

    def wait(self):
        """Wait for a NOTIFY jobchunk on any connection, unless one came
        meanwhile, or for a signal: Python writes a byte to the wakeup fd on
        each one (even one that came before the select), which ends the
        select at once.  A connection lost meanwhile is closed: the next
        call, or wait, connects again."""
        self.listen()
        conns = [c for c in [self.conn, *self.listeners.values()]
                 if c is not None and c.closed == 0]
        if not any(c.notifies for c in conns):
            ready = select.select(conns + [self.wakeup], [], [], self.args.idle)[0]
            for c in conns:
                if c in ready:
                    try:
                        c.poll()
                    except psycopg2.Error:
                        c.close()
        for c in conns:
            c.notifies.clear()
        if self.conn is not None and self.conn.closed != 0:
            self.conn = None

    def stop(self, signum, frame):
        if self.stopping:
            raise SystemExit(f"{self.args.name}: stopped at once by a second signal;"
                             " the chunks held come back when their leases expire")
        self.stopping = True

    def run(self):
        self.wakeup, wakeup_w = os.pipe()
        os.set_blocking(wakeup_w, False)
        signal.set_wakeup_fd(wakeup_w)
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        self.connect()
        try:
            while not self.stopping:
                claimed = self.claim()
                if claimed:
                    self.run_batch(claimed)
                elif self.args.until_done and self.job_complete():
                    return
                else:
                    self.wait()
        except psycopg2.Error as e:
            if e.pgcode != "P0002":
                raise
            # No such job: purged once finished, or never made.
            if not self.args.until_done:
                raise SystemExit(f"{self.args.name}: job {self.args.job} does not exist")
            logging.warning("%s: job %s does not exist (purged?): stopping",
                            self.args.name, self.args.job)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", required=True, help="libpq connection string")
    parser.add_argument("--job", type=int, required=True, help="the job to work on")
    parser.add_argument("--batch", type=int, default=50, help="chunks per claim")
    parser.add_argument("--lease", type=float, default=120.0, help="lease, in seconds")
    parser.add_argument("--name", default="worker", help="task_id of the claims")
    parser.add_argument("--idle", type=float, default=5.0,
                        help="seconds to wait for a NOTIFY before claiming again")
    parser.add_argument("--listen", action="append", default=[], metavar="DSN",
                        help="a database to LISTEN on too, such as a shard behind"
                        " a PL/Proxy --dsn (repeatable)")
    parser.add_argument("--work-seconds", type=float, default=0.0,
                        help="time process() takes a chunk (a stand-in for work)")
    parser.add_argument("--until-done", action="store_true",
                        help="stop once the job is complete")
    parser.add_argument("--verbose", action="store_true",
                        help="log each chunk as work on it begins")
    args = parser.parse_args()
    logging.basicConfig(format="%(asctime)s %(message)s",
                        level=logging.INFO if args.verbose else logging.WARNING)
    worker = Worker(args)
    worker.run()
    print(f"{args.name}: completed {worker.completed} chunks, released {worker.released}")


if __name__ == "__main__":
    main()
