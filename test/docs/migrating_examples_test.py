"""The migration guides' "after" code (docs/migrating/examples), run against a real node whose
Celery target pushes onto a broker consumed by a real Celery worker running the guides' app.
Driven by test/docs/migrating.test.ts, which starts all of it and sets TICKWHEEL_URL."""
import datetime as dt
import sqlite3
import time
import unittest
import uuid

import celery_countdown_after
import db_table_after
import rq_scheduler_after
from tickwheel import Client, InvalidInputError

CLIENT = Client()  # TICKWHEEL_URL from the driver; the examples' schedule_celery uses the same default


def wait_for_celery(task_id, timeout_s=60.0):
    """The task's Celery result as GET /v1/tasks/:id shows it, once the worker stored one."""
    deadline = time.monotonic() + timeout_s
    while True:
        task = CLIENT.get(task_id)
        if task is not None and task.celery and task.celery.get("state") not in (None, "PENDING"):
            return task
        if time.monotonic() > deadline:
            raise AssertionError(f"no Celery result for {task_id}: {task}")
        time.sleep(0.1)


def unique(label):
    return f"{label}-{uuid.uuid4().hex[:10]}"


class CeleryCountdownGuide(unittest.TestCase):
    def test_countdown_runs_on_the_worker_once_due(self):
        user = unique("u")
        scheduled = celery_countdown_after.schedule_trial_reminder(user, "ada@example.com", countdown=1)
        self.assertEqual(scheduled.id, f"trial-reminder-{user}")
        self.assertEqual(CLIENT.get(scheduled.id).state, "scheduled")
        task = wait_for_celery(scheduled.id)
        self.assertEqual(task.celery["state"], "SUCCESS")
        self.assertEqual(task.celery["result"], {"sent": "ada@example.com", "template": "trial-ends"})
        self.assertEqual(task.state, "succeeded")

    def test_eta_on_a_custom_queue(self):
        invoice = unique("inv")
        due = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1)
        scheduled = celery_countdown_after.schedule_invoice_charge(invoice, 1299, due)
        self.assertEqual(CLIENT.get(scheduled.id).target, {"type": "celery", "task": "app.tasks.charge_invoice", "queue": "billing"})
        task = wait_for_celery(scheduled.id)
        self.assertEqual(task.celery["result"], {"charged": invoice, "amount_cents": 1299})

    def test_naive_eta_is_refused_and_cancel_replaces_revoke(self):
        with self.assertRaises(InvalidInputError) as caught:
            celery_countdown_after.schedule_invoice_charge(unique("inv"), 1, dt.datetime(2031, 1, 1))
        self.assertEqual(caught.exception.field, "eta")
        user = unique("u")
        celery_countdown_after.schedule_trial_reminder(user, "bob@example.com")
        self.assertEqual(celery_countdown_after.cancel_trial_reminder(user, CLIENT).state, "cancelled")


SCHEMA = """CREATE TABLE scheduled_tasks (
  id INTEGER PRIMARY KEY, task TEXT NOT NULL, args TEXT NOT NULL, run_at TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending')"""


class DbTableGuide(unittest.TestCase):
    def setUp(self):
        self.db = sqlite3.connect(":memory:")
        self.db.execute(SCHEMA)
        # Row ids are task ids: start each test's table at a random id (rows are numbered max + 1),
        # so two tests' rows never share a task id on the node.
        self.db.execute("INSERT INTO scheduled_tasks (id, task, args, run_at, status) VALUES (?, 'x', 'x', 'x', 'sent')",
                        (uuid.uuid4().int % 10**12,))

    def test_migration_hands_over_pending_rows_once(self):
        now = dt.datetime.now(dt.timezone.utc)
        rows = [("app.tasks.send_email", "past@example.com", (now - dt.timedelta(minutes=5)).isoformat()),
                ("app.tasks.send_email", "later@example.com", (now + dt.timedelta(days=30)).isoformat())]
        with self.db:
            self.db.executemany("INSERT INTO scheduled_tasks (task, args, run_at) VALUES (?, ?, ?)", rows)
        ids = [row[0] for row in self.db.execute("SELECT id FROM scheduled_tasks WHERE status = 'pending' ORDER BY id")]
        self.assertEqual(db_table_after.migrate_pending_rows(self.db, CLIENT), 2)
        self.assertEqual(db_table_after.migrate_pending_rows(self.db, CLIENT), 0)
        past = wait_for_celery(f"scheduled-task-{ids[0]}")
        self.assertEqual(past.celery["result"], {"sent": "past@example.com", "template": "welcome"})
        later = CLIENT.get(f"scheduled-task-{ids[1]}")
        self.assertEqual((later.state, later.due_at), ("scheduled", int(dt.datetime.fromisoformat(rows[1][2]).timestamp() * 1000)))
        # Handing a row over again (a crash between scheduling and the status update) creates nothing.
        again = CLIENT.schedule_many([{"name": "app.tasks.send_email", "args": ["later@example.com"], "id": f"scheduled-task-{ids[1]}",
                                       "run_at": rows[1][2], "target": {"type": "celery", "task": "app.tasks.send_email"}}])
        self.assertFalse(again[0].created)

    def test_new_rows_are_scheduled_when_written(self):
        row_id = db_table_after.create_reminder(self.db, CLIENT, "new@example.com", dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1))
        self.assertEqual(self.db.execute("SELECT status FROM scheduled_tasks WHERE id = ?", (row_id,)).fetchone()[0], "handed_over")
        task = wait_for_celery(f"scheduled-task-{row_id}")
        self.assertEqual(task.celery["result"]["sent"], "new@example.com")


class RqSchedulerGuide(unittest.TestCase):
    def test_enqueue_in_and_at_and_cancel(self):
        soon = rq_scheduler_after.remind_in(CLIENT, "soon@example.com", dt.timedelta(seconds=1))
        self.assertEqual(wait_for_celery(soon.id).celery["result"], {"sent": "soon@example.com", "template": "welcome"})
        later = rq_scheduler_after.remind_later(CLIENT, unique("later") + "@example.com", dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2))
        self.assertTrue(later.created)
        self.assertEqual(rq_scheduler_after.cancel_reminder(CLIENT, later.id).state, "cancelled")


if __name__ == "__main__":
    unittest.main()
