"""Recurring schedules through the client against a real node (started by
test/clients/python-client.test.ts): put (create, replace), get, list by prefix and paged, pause,
resume, delete, bulk put with per-item errors, typed errors naming the field, and a schedule whose
occurrences a real Celery worker runs (the fixture app's tw.add)."""
import datetime as dt
import os
import time
import unittest
import uuid

from tickwheel import (Client, InvalidInputError, NotFoundError, Schedule, SchedulePut, ScheduleStored,
                       TickwheelError)

URL = os.environ["TICKWHEEL_TEST_URL"]
TOKEN = os.environ.get("TICKWHEEL_TEST_TOKEN")


def new_name(label: str) -> str:
    return f"py-{label}-{uuid.uuid4().hex[:10]}"


class SchedulesTest(unittest.TestCase):
    def setUp(self):
        self.client = Client(URL, token=TOKEN)

    def test_put_creates_then_replaces_and_get_shows_it(self):
        name = new_name("nightly")
        put = self.client.put_schedule(name, "py.report", {"kind": "daily"}, cron="30 2 * * *", tz="Europe/Berlin", priority=2)
        self.assertIsInstance(put, SchedulePut)
        self.assertTrue(put.created)
        self.assertEqual((put.schedule.name, put.schedule.cron, put.schedule.tz), (name, "30 2 * * *", "Europe/Berlin"))
        self.assertEqual(put.schedule.task, {"name": "py.report", "args": {"kind": "daily"}, "priority": 2})
        self.assertEqual(len(put.schedule.next), 5)
        for at in put.schedule.next:
            self.assertRegex(at, r"T(02:30:00\+0[12]:00|03:00:00\+02:00)$")
        got = self.client.get_schedule(name)
        self.assertIsInstance(got, Schedule)
        self.assertEqual(got.next_due_at, put.schedule.next_due_at)
        self.assertIsNone(got.last_occurrence)
        replaced = self.client.put_schedule(name, "py.report", every=dt.timedelta(minutes=15))
        self.assertFalse(replaced.created)
        self.assertEqual((replaced.schedule.every_ms, replaced.schedule.cron), (15 * 60_000, None))
        self.assertIsNone(self.client.get_schedule(new_name("nobody")))

    def test_every_takes_seconds_timedeltas_and_text(self):
        for every, ms in ((90, 90_000), (0.5, 500), (dt.timedelta(hours=1), 3_600_000), ("15m", 900_000)):
            put = self.client.put_schedule(new_name("every"), "py.tick", every=every, paused=True)
            self.assertEqual(put.schedule.every_ms, ms)
            self.assertTrue(put.schedule.paused)

    def test_bad_input_names_the_field(self):
        cases = [
            (dict(cron="61 * * * *"), "cron", 400),
            (dict(cron="0 * * * *", tz="Moon/Tranquility"), "tz", 400),
            (dict(every="10ms"), "every", 400),
            (dict(every="1h", priority=99), "task.priority", 400),
            (dict(every="1h", misfire="never"), "misfire", 400),
        ]
        for options, field, status in cases:
            with self.subTest(field=field):
                with self.assertRaises(InvalidInputError) as caught:
                    self.client.put_schedule(new_name("bad"), "py.bad", **options)
                self.assertEqual((caught.exception.code, caught.exception.field, caught.exception.status), ("invalid_input", field, status))
        # Refused before sending: neither or both of cron and every, a naive start_at.
        with self.assertRaises(InvalidInputError) as neither:
            self.client.put_schedule(new_name("bad"), "py.bad")
        self.assertEqual((neither.exception.field, neither.exception.status), ("cron", None))
        with self.assertRaises(InvalidInputError) as both:
            self.client.put_schedule(new_name("bad"), "py.bad", cron="0 * * * *", every=60)
        self.assertEqual(both.exception.field, "every")
        with self.assertRaises(InvalidInputError) as naive:
            self.client.put_schedule(new_name("bad"), "py.bad", every=60, start_at=dt.datetime(2031, 1, 1))
        self.assertEqual(naive.exception.field, "start_at")
        with self.assertRaises(InvalidInputError) as name:
            self.client.put_schedule("has space", "py.bad", every=60)
        self.assertEqual((name.exception.field, name.exception.status), ("name", 400))

    def test_pause_resume_delete_and_not_found(self):
        name = new_name("pr")
        self.client.put_schedule(name, "py.tick", every="1h")
        paused = self.client.pause_schedule(name)
        self.assertTrue(paused.paused)
        self.assertIsNone(paused.next_due_at)
        self.assertEqual(paused.next, [])
        self.assertTrue(self.client.pause_schedule(name).paused)
        resumed = self.client.resume_schedule(name)
        self.assertFalse(resumed.paused)
        self.assertGreater(resumed.next_due_at, int(time.time() * 1000))
        self.client.delete_schedule(name)
        self.assertIsNone(self.client.get_schedule(name))
        for call in (self.client.pause_schedule, self.client.resume_schedule, self.client.delete_schedule):
            with self.assertRaises(NotFoundError) as missing:
                call(name)
            self.assertEqual((missing.exception.code, missing.exception.status), ("not_found", 404))

    def test_list_pages_by_prefix(self):
        prefix = new_name("tenant") + "-"
        names = {f"{prefix}{i}" for i in range(7)}
        for name in names:
            self.client.put_schedule(name, "py.sync", every="1h")
        self.client.put_schedule(new_name("other"), "py.sync", every="1h")
        first = self.client.list_schedules(prefix=prefix, limit=3)
        self.assertLessEqual(len(first.schedules), 3)
        seen = set()
        cursor = None
        for _ in range(50):
            page = self.client.list_schedules(prefix=prefix, limit=3, cursor=cursor)
            seen.update(schedule.name for schedule in page.schedules)
            cursor = page.next_cursor
            if cursor is None:
                break
        self.assertEqual(seen, names)
        self.assertEqual({schedule.name for schedule in self.client.iter_schedules(prefix=prefix, page_size=2)}, names)
        with self.assertRaises(InvalidInputError) as bad:
            self.client.list_schedules(limit=0)
        self.assertEqual(bad.exception.field, "limit")

    def test_put_schedules_answers_each_item_in_order(self):
        prefix = new_name("bulk") + "-"
        items = [{"name": f"{prefix}{i}", "task": "py.sync", "args": {"tenant": i}, "every": "1h"} for i in range(300)]
        items[5] = {"name": f"{prefix}5", "task": "py.sync", "cron": "61 * * * *"}
        items[9] = {"name": f"{prefix}9", "task": "py.sync"}  # neither cron nor every: refused before sending
        items.append({"name": f"{prefix}0", "task": "py.sync", "every": "2h"})  # the same name twice
        results = self.client.put_schedules(items)
        self.assertEqual(len(results), 301)
        errors = {i: result for i, result in enumerate(results) if isinstance(result, TickwheelError)}
        self.assertEqual(sorted(errors), [5, 9, 300])
        self.assertEqual([(errors[i].field, errors[i].index) for i in (5, 9, 300)], [("cron", 5), ("cron", 9), ("name", 300)])
        self.assertEqual((errors[5].status, errors[9].status, errors[300].status), (400, None, 400))
        stored = [result for result in results if isinstance(result, ScheduleStored)]
        self.assertEqual(len(stored), 298)
        self.assertTrue(all(result.created for result in stored))
        self.assertEqual(results[7].name, f"{prefix}7")
        self.assertEqual(self.client.get_schedule(f"{prefix}7").task["args"], {"tenant": 7})
        self.assertIsNone(self.client.get_schedule(f"{prefix}5"))
        self.assertEqual(len(list(self.client.iter_schedules(prefix=prefix))), 298)
        again = self.client.put_schedules([{"name": f"{prefix}1", "task": "py.sync", "every": "30m"}])
        self.assertFalse(again[0].created)
        self.assertEqual(self.client.get_schedule(f"{prefix}1").every_ms, 30 * 60_000)

    def test_occurrences_run_on_a_celery_worker(self):
        name = new_name("celery")
        self.client.put_schedule(name, "tw.add", [2, 3], every=1, target={"type": "celery", "task": "tw.add"})
        deadline = time.monotonic() + 60
        while True:
            schedule = self.client.get_schedule(name)
            last = schedule.last_occurrence
            if last is not None:
                task = self.client.get(last["id"])
                if task is not None and task.celery and task.celery.get("state") == "SUCCESS":
                    break
            if time.monotonic() > deadline:
                raise AssertionError(f"no occurrence ran on the Celery worker: {schedule}")
            time.sleep(0.2)
        self.assertEqual(task.celery["result"], 5)
        self.assertEqual(task.raw["schedule"]["name"], name)
        self.client.delete_schedule(name)


if __name__ == "__main__":
    unittest.main()
