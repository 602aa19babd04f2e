"""
The Celery side of the benchmark's anchor case (scripts/bench/celery.ts runs it
with Debian's /usr/bin/python3, which has python3-celery and python3-redis).
It is both the Celery app the workers load (`-A celery_bench`) and the driver:

    celery_bench.py rss REDIS_URL N,M,...     worker RSS with N (then M, ...) tasks a week out
    celery_bench.py visibility REDIS_URL N     countdown 10 s past a visibility_timeout of 5 s
    celery_bench.py lateness REDIS_URL RATE S  countdown tasks at RATE/s for S seconds

Each mode starts its own worker processes on the given (private, empty)
Redis, prints progress to stderr and one JSON line with its figures to
stdout. Workers run with Celery's defaults (prefork pool, one child per CPU)
except where a mode says otherwise. The task records, in Redis, how late it
started (against the due time the producer computed with its countdown) and
how many times each task ran.
"""
import json
import math
import os
import random
import signal
import subprocess
import sys
import time

from celery import Celery
import redis as redis_client

BROKER = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
VISIBILITY_S = os.environ.get("BENCH_CELERY_VISIBILITY_S")

app = Celery("celery_bench", broker=BROKER)
app.conf.task_ignore_result = True
app.conf.worker_hijack_root_logger = False
if VISIBILITY_S:
    app.conf.broker_transport_options = {"visibility_timeout": float(VISIBILITY_S)}

_redis = None


def _conn():
    # One connection per worker child, made on first use (after the fork).
    global _redis
    if _redis is None:
        _redis = redis_client.Redis.from_url(BROKER)
    return _redis


@app.task(name="bench.noop")
def noop(task_id, due_ms):
    late_ms = int(time.time() * 1000) - due_ms
    pipe = _conn().pipeline(transaction=False)
    pipe.rpush("bench:lateness", late_ms)
    pipe.hincrby("bench:runs", task_id, 1)
    pipe.execute()


HERE = os.path.dirname(os.path.abspath(__file__))
WEEK_S = 7 * 86400


def log(line):
    print(f"celery: {line}", file=sys.stderr, flush=True)


class Worker:
    """
    A `celery worker` process group, logging at WARNING (per-task INFO lines
    would cost it CPU). Ready once one more client than before blocks in
    BRPOP on Redis: the worker's consumer waiting for messages.
    """

    def __init__(self, name, extra_env=None):
        # PYTHONWARNINGS: Celery warns at length when run as root (as in a container).
        env = dict(os.environ, BENCH_REDIS_URL=BROKER, PYTHONWARNINGS="ignore", **(extra_env or {}))
        r = redis_client.Redis.from_url(BROKER)
        consumers = brpop_clients(r)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "celery_bench", "worker", "--loglevel=WARNING", "-n", f"{name}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=HERE, env=env, stdout=subprocess.DEVNULL, stderr=None, start_new_session=True,
        )
        if not wait_until(lambda: brpop_clients(r) > consumers or self.proc.poll() is not None, 60, f"worker {name} to consume"):
            self.stop()
            raise RuntimeError(f"worker {name} not consuming within 60 s")
        if self.proc.poll() is not None:
            raise RuntimeError(f"worker {name} exited with {self.proc.returncode}")

    def pids(self):
        """The worker's main process and its pool children."""
        children = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
            if ppid == self.proc.pid:
                children.append(int(entry))
        return [self.proc.pid] + children

    def rss_mb(self):
        """RSS of each of the worker's processes, main first (MiB)."""
        sizes = []
        for pid in self.pids():
            try:
                with open(f"/proc/{pid}/status") as f:
                    kb = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
                sizes.append(kb / 1024)
            except (OSError, StopIteration):
                pass
        return sizes

    def cpu_seconds(self):
        total = 0.0
        for pid in self.pids():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    stat = f.read()
                fields = stat[stat.rindex(")") + 2:].split()
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            except OSError:
                pass
        return total

    def stop(self):
        # SIGKILL to the whole group: a warm shutdown would first hand every held ETA task back.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()


def brpop_clients(r):
    return sum(1 for client in r.client_list() if client.get("cmd") == "brpop")


def wait_until(condition, timeout_s, what):
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    log(f"gave up waiting for {what} after {timeout_s} s")
    return False


def held_by_workers(r):
    """Messages delivered to a worker and not acknowledged (kombu's unacked hash)."""
    return r.hlen("unacked")


def send(count, due_of, rate=None):
    """Sends `count` tasks with countdown = due - now; at `rate` per second when given."""
    started = time.time()
    with app.producer_or_acquire() as producer:
        for i in range(count):
            if rate:
                ahead = started + i / rate - time.time()
                if ahead > 0:
                    time.sleep(ahead)
            due_ms = due_of(i)
            noop.apply_async((f"t{i}", due_ms), countdown=(due_ms - time.time() * 1000) / 1000, producer=producer)
    return time.time() - started


def used_memory(r):
    return r.info("memory")["used_memory"]


def mode_rss(counts):
    """One worker; tasks a week out are sent up to each count in turn, and measured there."""
    r = redis_client.Redis.from_url(BROKER)
    worker = Worker("rss")
    try:
        time.sleep(1)
        idle = worker.rss_mb()
        before = used_memory(r)
        base_ms = int(time.time() * 1000) + WEEK_S * 1000
        results = []
        sent = 0
        for count in counts:
            took = send(count - sent, lambda i: base_ms + sent + i)
            sent = count
            log(f"sent up to {count} ({took:.1f} s)")
            received = wait_until(lambda: held_by_workers(r) >= count and r.llen("celery") == 0, 300, f"the worker to take all {count}")
            time.sleep(2)
            held = worker.rss_mb()
            results.append({
                "tasks": count,
                "held": held_by_workers(r),
                "allReceived": received,
                "rssIdleMB": round(sum(idle), 1),
                "rssMB": round(sum(held), 1),
                "rssMainMB": round(held[0], 1),
                "processes": len(held),
                "kibPerTask": round((sum(held) - sum(idle)) * 1024 / count, 2),
                "redisBytesPerTask": round((used_memory(r) - before) / count, 1),
            })
        return results
    finally:
        worker.stop()


def mode_visibility(count):
    """
    Countdown 10 s, visibility_timeout 5 s. Worker 1 takes the tasks and holds
    them for their ETA; 6 s after they were sent a second worker starts (a
    deploy or a scale-up does this), and at start-up kombu restores every
    unacknowledged message older than visibility_timeout to the queue. Runs
    are counted per task 15 s after the due time.
    """
    r = redis_client.Redis.from_url(BROKER)
    env = {"BENCH_CELERY_VISIBILITY_S": "5"}
    first = Worker("w1", env)
    second = None
    try:
        sent_at = time.time()
        due_ms = int(sent_at * 1000) + 10_000
        send(count, lambda i: due_ms)
        wait_until(lambda: held_by_workers(r) >= count, 5, "worker 1 to take the tasks")
        time.sleep(max(0, sent_at + 6 - time.time()))
        second = Worker("w2", env)
        time.sleep(max(0, sent_at + 25 - time.time()))
        runs = [int(v) for v in r.hgetall("bench:runs").values()]
        histogram = {}
        for n in runs:
            histogram[n] = histogram.get(n, 0) + 1
        never = count - len(runs)
        if never:
            histogram[0] = never
        return {"tasks": count, "visibilityS": 5, "countdownS": 10, "secondWorkerAtS": 6, "runs": sum(runs), "runsPerTask": {str(k): v for k, v in sorted(histogram.items())}}
    finally:
        first.stop()
        if second:
            second.stop()


def mode_lateness(rate, seconds):
    r = redis_client.Redis.from_url(BROKER)
    worker = Worker("late")
    try:
        total = int(rate * seconds)
        cpu = worker.cpu_seconds()
        started = time.time()
        dues = []

        def due_of(i):
            due = int(time.time() * 1000) + random.randint(100, 2999)
            dues.append(due)
            return due

        send(total, due_of, rate)
        last_due_s = max(dues) / 1000
        wait_until(lambda: r.llen("bench:lateness") >= total, max(1, last_due_s + 10 - time.time()), "every task to run")
        wall = time.time() - started
        worker_cpu = 100 * (worker.cpu_seconds() - cpu) / wall
        samples = sorted(int(v) for v in r.lrange("bench:lateness", 0, -1))
        missing = total - len(samples)
        floor = int(time.time() * 1000 - max(dues))
        samples += [max(floor, samples[-1] if samples else floor)] * missing

        def rank(p):
            return samples[max(0, math.ceil(p * len(samples) / 100) - 1)] if samples else None

        return {
            "rate": rate, "added": total, "notStarted": missing, "early": sum(1 for s in samples if s < 0),
            "lateness": {"p50": rank(50), "p90": rank(90), "p99": rank(99), "p999": rank(99.9), "max": samples[-1] if samples else None},
            "workerCpu": round(worker_cpu, 1),
        }
    finally:
        worker.stop()


if __name__ == "__main__":
    mode = sys.argv[1]
    BROKER = sys.argv[2]
    os.environ["BENCH_REDIS_URL"] = BROKER
    app.conf.broker_url = BROKER
    if mode == "rss":
        result = mode_rss([int(n) for n in sys.argv[3].split(",")])
    elif mode == "visibility":
        result = mode_visibility(int(sys.argv[3]))
    elif mode == "lateness":
        result = mode_lateness(float(sys.argv[3]), float(sys.argv[4]))
    else:
        raise SystemExit(f"unknown mode {mode!r}: expected rss, visibility or lateness")
    print(json.dumps(result), flush=True)
