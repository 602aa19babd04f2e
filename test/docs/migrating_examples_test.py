"""The migration guides' "after" code (docs/migrating/examples), run against a real node whose
Celery target pushes onto a broker consumed by a real Celery worker running the guides' app.
Driven by test/docs/migrating.test.ts, which starts all of it and sets TICKWHEEL_URL."""
import datetime as dt
import sqlite3
import time
import unittest
import uuid

import celery_beat_after
import celery_countdown_after
import db_table_after
import rq_scheduler_after
from celery.schedules import crontab, schedule as every_schedule
from tickwheel import Client, InvalidInputError, ScheduleStored, TickwheelError

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


class CeleryBeatGuide(unittest.TestCase):
    def test_beat_entries_become_schedules_whose_occurrences_run_on_the_worker(self):
        suffix = uuid.uuid4().hex[:8]
        beat_schedule = {
            f"nightly-report-{suffix}": {"task": "app.tasks.send_email", "schedule": crontab(hour=2, minute=30),
                                         "args": ("ops@example.com",), "kwargs": {"template": "nightly-report"}},
            f"every-second-{suffix}": {"task": "app.tasks.charge_invoice", "schedule": 1.0, "args": ("due", 0),
                                       "options": {"queue": "billing"}},
            f"every-5s-{suffix}": {"task": "app.tasks.send_email", "schedule": every_schedule(run_every=dt.timedelta(seconds=5)),
                                   "args": ("five@example.com",)},
        }
        puts = celery_beat_after.migrate_beat_schedule(CLIENT, beat_schedule, tz="Europe/Berlin")
        self.assertTrue(all(put.created for put in puts))
        nightly = CLIENT.get_schedule(f"nightly-report-{suffix}")
        self.assertEqual((nightly.cron, nightly.tz), ("30 2 * * *", "Europe/Berlin"))
        self.assertEqual(nightly.task["target"], {"type": "celery", "task": "app.tasks.send_email", "kwargs": {"template": "nightly-report"}})
        for at in nightly.next:
            self.assertRegex(at, r"T(02:30:00\+0[12]:00|03:00:00\+02:00)$")
        self.assertEqual(CLIENT.get_schedule(f"every-5s-{suffix}").every_ms, 5_000)
        # The 1-second entry's occurrences reach the worker through the billing queue.
        name = f"every-second-{suffix}"
        deadline = time.monotonic() + 60
        while True:
            last = CLIENT.get_schedule(name).last_occurrence
            task = CLIENT.get(last["id"]) if last else None
            if task is not None and task.celery and task.celery.get("state") == "SUCCESS":
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"no occurrence of {name} ran on the worker: {last}")
            time.sleep(0.2)
        self.assertEqual(task.celery["result"], {"charged": "due", "amount_cents": 0})
        self.assertEqual(task.target["queue"], "billing")
        # Running the migration again replaces the schedules with the same definitions.
        again = celery_beat_after.migrate_beat_schedule(CLIENT, beat_schedule, tz="Europe/Berlin")
        self.assertFalse(any(put.created for put in again))
        for schedule_name in beat_schedule:
            CLIENT.delete_schedule(schedule_name)

    def test_an_entry_beat_cannot_express_is_refused_by_name(self):
        with self.assertRaises(ValueError) as caught:
            celery_beat_after.schedule_from_beat_entry("odd", {"task": "app.tasks.send_email", "schedule": "daily"})
        self.assertIn("odd", str(caught.exception))

    def test_one_schedule_per_tenant_in_bulk(self):
        tenants = [f"{uuid.uuid4().hex[:6]}-{i}" for i in range(1200)]
        results = celery_beat_after.schedule_tenant_syncs(CLIENT, tenants)
        self.assertEqual(len(results), 1200)
        self.assertTrue(all(isinstance(result, ScheduleStored) and result.created for result in results))
        schedule = CLIENT.get_schedule(f"sync-tenant-{tenants[17]}")
        self.assertEqual((schedule.cron, schedule.task["args"]), ("0 * * * *", [tenants[17]]))
        # A tenant id that cannot be part of a schedule name is answered in its place; the rest are stored.
        mixed = celery_beat_after.schedule_tenant_syncs(CLIENT, ["ok-" + tenants[0], "has space"])
        self.assertIsInstance(mixed[0], ScheduleStored)
        self.assertIsInstance(mixed[1], TickwheelError)
        self.assertEqual((mixed[1].field, mixed[1].index), ("name", 1))


if __name__ == "__main__":
    unittest.main()
