#!/usr/bin/env python3
"""A batch worker for jobchunk, in Python with psycopg2.

It claims up to --batch chunks of a job at a time under a lease of --lease
seconds, works on them one after the other, keeps their leases with
jc_heartbeat_batch every third of a lease (dropping any chunk whose lease
it lost), and completes the rest in one call.  With nothing to claim it
waits for a NOTIFY jobchunk, or --idle seconds (an expiring lease sends
none); with --until-done it stops once the job is complete (no chunk left
pending or processing).

    python3 examples/worker.py --dsn 'dbname=crawl' --job 1 --until-done

The work itself is process(): replace it with yours.  Each call is a
transaction of its own (autocommit), as the README advises.
"""

import argparse
import select
import sys
import time

import psycopg2


def process(image_range, work_seconds):
    """Stand-in for the real work on the images of one chunk."""
    time.sleep(work_seconds)
    return image_range["end"] - image_range["start"] + 1


class Worker:
    def __init__(self, args):
        self.args = args
        self.conn = None
        self.completed = 0

    def connect(self):
        self.conn = psycopg2.connect(self.args.dsn)
        self.conn.autocommit = True
        with self.conn.cursor() as cur:
            cur.execute("LISTEN jobchunk")

    def disconnect(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def query(self, sql, args=()):
        with self.conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall()

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

    def complete(self, done):
        """Complete done ({id: token}), all or none: a heartbeat first names
        the chunks lost meanwhile, which are dropped, not completed."""
        while done:
            try:
                rows = self.query(
                    "SELECT id FROM jobchunk.jc_mark_completed(%s::bigint[], %s::bigint[])",
                    (list(done), list(done.values())))
                self.completed += len(rows)
                return
            except psycopg2.Error as e:
                if e.pgcode not in ("55000", "P0002"):
                    raise
                # A lease lost since the last heartbeat: find which, drop it.
                before = len(done)
                self.heartbeat(done)
                if len(done) == before:
                    raise

    def fail(self, chunk_id, message, token):
        try:
            self.query("SELECT jobchunk.jc_mark_failed(%s, %s, %s)",
                       (chunk_id, message, token))
        except psycopg2.Error as e:
            if e.pgcode not in ("55000", "P0002"):
                raise               # else lost meanwhile: nothing to record

    def run_batch(self, claimed):
        held = {chunk_id: token for chunk_id, _, token in claimed}
        done = []
        last_beat = time.monotonic()
        for chunk_id, image_range, token in claimed:
            if time.monotonic() - last_beat > self.args.lease / 3:
                self.heartbeat(held)    # the chunks done too, until completed
                last_beat = time.monotonic()
            if chunk_id not in held:
                continue                # lost: another worker has it now
            try:
                process(image_range, self.args.work_seconds)
            except Exception as e:      # the work failed: record it on the chunk
                del held[chunk_id]
                self.fail(chunk_id, str(e)[:1000], token)
                continue
            done.append(chunk_id)
        self.complete({chunk_id: held[chunk_id] for chunk_id in done if chunk_id in held})

    def job_complete(self):
        (complete,), = self.query(
            "SELECT is_complete FROM jobchunk.jc_progress(%s)", (self.args.job,))
        return complete

    def wait(self):
        if select.select([self.conn], [], [], self.args.idle) != ([], [], []):
            self.conn.poll()
            self.conn.notifies.clear()

    def run(self):
        """Claim and work until the job is complete (with --until-done) or
        for ever.  A batch cut short by a lost connection is left to its
        leases: its chunks are claimed again once they expire."""
        while True:
            try:
                if self.conn is None:
                    self.connect()
                claimed = self.claim()
                if claimed:
                    self.run_batch(claimed)
                elif self.args.until_done and self.job_complete():
                    return
                else:
                    self.wait()
            except psycopg2.OperationalError:
                self.disconnect()   # connection lost, or server restarting
                time.sleep(1)
            except psycopg2.Error as e:
                if e.pgcode != "0A000":
                    raise
                self.disconnect()   # the extension was updated: reconnect
                time.sleep(1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", required=True, help="libpq connection string")
    parser.add_argument("--job", type=int, required=True, help="the job to work on")
    parser.add_argument("--batch", type=int, default=50, help="chunks per claim")
    parser.add_argument("--lease", type=float, default=120.0, help="lease, in seconds")
    parser.add_argument("--name", default="worker", help="task_id of the claims")
    parser.add_argument("--idle", type=float, default=5.0,
                        help="seconds to wait for a NOTIFY before claiming again")
    parser.add_argument("--work-seconds", type=float, default=0.0,
                        help="time process() takes a chunk (a stand-in for work)")
    parser.add_argument("--until-done", action="store_true",
                        help="stop once the job is complete")
    args = parser.parse_args()
    worker = Worker(args)
    worker.run()
    print(f"{args.name}: completed {worker.completed} chunks")


if __name__ == "__main__":
    sys.exit(main())
