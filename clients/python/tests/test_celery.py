"""schedule_celery end to end: a real node whose broker a real Celery worker consumes (the
fixture app of test/fixtures/celery: tw.add, tw.echo). Started by test/clients/python-client.test.ts."""
import datetime as dt
import os
import time
import unittest
import uuid

import tickwheel
from tickwheel import Client

URL = os.environ["TICKWHEEL_TEST_URL"]
TOKEN = os.environ.get("TICKWHEEL_TEST_TOKEN")


def wait_for_celery(client, task_id, timeout_s=60.0):
    deadline = time.monotonic() + timeout_s
    while True:
        task = client.get(task_id)
        if task is not None and task.celery and task.celery.get("state") not in (None, "PENDING"):
            return task
        if time.monotonic() > deadline:
            raise AssertionError(f"no Celery result for {task_id}: {task}")
        time.sleep(0.1)


class ScheduleCeleryTest(unittest.TestCase):
    def setUp(self):
        self.client = Client(URL, token=TOKEN)

    def test_countdown_with_kwargs_queue_and_priority(self):
        task_id = f"py-celery-{uuid.uuid4().hex[:12]}"
        scheduled = self.client.schedule_celery("tw.echo", [1, "two"], {"to": "ada@example.com"}, countdown=1,
                                                queue="bridgeq", priority=3, id=task_id)
        self.assertEqual((scheduled.id, scheduled.created), (task_id, True))
        before = self.client.get(task_id)
        self.assertEqual(before.state, "scheduled")
        self.assertEqual(before.target, {"type": "celery", "task": "tw.echo", "queue": "bridgeq", "priority": 3, "kwargs": {"to": "ada@example.com"}})
        task = wait_for_celery(self.client, task_id)
        self.assertEqual(task.celery["state"], "SUCCESS")
        self.assertEqual(task.celery["result"], {"args": [1, "two"], "kwargs": {"to": "ada@example.com"}})
        self.assertEqual(task.state, "succeeded")
        self.assertGreaterEqual(task.finished_at, scheduled.due_at)

    def test_eta_through_the_module_level_helper(self):
        # The one-line replacement of apply_async: the default client reads TICKWHEEL_URL.
        eta = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1)
        scheduled = tickwheel.schedule_celery("tw.add", (40, 2), eta=eta)
        self.assertEqual(scheduled.due_at, int(eta.timestamp() * 1000))
        self.assertEqual(wait_for_celery(self.client, scheduled.id).celery["result"], 42)

    def test_the_api_names_a_bad_celery_field(self):
        with self.assertRaises(tickwheel.InvalidInputError) as caught:
            self.client.schedule_celery("tw.add", [1, 2], countdown=10, priority=12)
        self.assertEqual((caught.exception.field, caught.exception.status), ("target.priority", 400))
        with self.assertRaises(tickwheel.InvalidInputError) as name:
            self.client.schedule_celery("not a task name", [], countdown=10)
        self.assertEqual(name.exception.field, "target.task")


if __name__ == "__main__":
    unittest.main()
