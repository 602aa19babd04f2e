"""The client against a real node. Run by test/clients/python-client.test.ts with the system
Python; it starts the node and sets TICKWHEEL_TEST_URL and TICKWHEEL_TEST_TOKEN."""
import datetime as dt
import os
import unittest
import uuid

import tickwheel
from tickwheel import Client, ConflictError, InvalidInputError, NotFoundError, UnauthorizedError, UnavailableError

URL = os.environ["TICKWHEEL_TEST_URL"]
TOKEN = os.environ.get("TICKWHEEL_TEST_TOKEN")


def new_id(label: str) -> str:
    return f"py-{label}-{uuid.uuid4().hex[:12]}"


class ClientTest(unittest.TestCase):
    def setUp(self):
        self.client = Client(URL, token=TOKEN)

    def test_schedule_get_and_idempotency(self):
        task_id = new_id("one")
        first = self.client.schedule("py.reminder", {"user": 42}, id=task_id, delay=dt.timedelta(hours=1), priority=3)
        self.assertTrue(first.created)
        self.assertEqual(first.id, task_id)
        again = self.client.schedule("py.reminder", {"user": 42}, id=task_id, delay=3600)
        self.assertFalse(again.created)
        self.assertEqual(again.due_at, first.due_at)
        task = self.client.get(task_id)
        self.assertIsNotNone(task)
        self.assertEqual((task.name, task.state, task.args, task.priority), ("py.reminder", "scheduled", {"user": 42}, 3))
        self.assertEqual(task.due_at, first.due_at)

    def test_run_at_takes_aware_datetimes_text_and_epoch_ms(self):
        when = dt.datetime(2031, 5, 6, 7, 8, 9, tzinfo=dt.timezone(dt.timedelta(hours=2)))
        self.assertEqual(self.client.schedule("py.at", id=new_id("at"), run_at=when).due_at, int(when.timestamp() * 1000))
        self.assertEqual(self.client.schedule("py.at", id=new_id("at"), run_at="2031-05-06T05:08:09Z").due_at, int(when.timestamp() * 1000))
        self.assertEqual(self.client.schedule("py.at", id=new_id("at"), run_at=1_999_999_999_000).due_at, 1_999_999_999_000)

    def test_naive_datetime_is_refused_before_sending(self):
        task_id = new_id("naive")
        with self.assertRaises(InvalidInputError) as caught:
            self.client.schedule("py.at", id=task_id, run_at=dt.datetime(2031, 1, 1))
        self.assertEqual((caught.exception.field, caught.exception.status), ("run_at", None))
        self.assertIsNone(self.client.get(task_id))

    def test_cancel_then_conflict_and_not_found(self):
        task_id = new_id("cancel")
        self.client.schedule("py.cancel", id=task_id, delay="10m")
        cancelled = self.client.cancel(task_id)
        self.assertEqual(cancelled.state, "cancelled")
        with self.assertRaises(ConflictError) as caught:
            self.client.cancel(task_id)
        self.assertEqual((caught.exception.code, caught.exception.status), ("conflict", 409))
        self.assertEqual(caught.exception.task.state, "cancelled")
        with self.assertRaises(NotFoundError) as missing:
            self.client.cancel(new_id("nobody"))
        self.assertEqual(missing.exception.code, "not_found")
        self.assertIsNone(self.client.get(new_id("nobody")))

    def test_reschedule(self):
        task_id = new_id("move")
        scheduled = self.client.schedule("py.move", id=task_id, delay="1h")
        moved = self.client.reschedule(task_id, delay="2h")
        self.assertGreater(moved.due_at, scheduled.due_at + 3_000_000)
        at = dt.datetime(2032, 1, 1, tzinfo=dt.timezone.utc)
        self.assertEqual(self.client.reschedule(task_id, run_at=at).due_at, int(at.timestamp() * 1000))
        with self.assertRaises(NotFoundError):
            self.client.reschedule(new_id("nobody"), delay=60)
        with self.assertRaises(InvalidInputError) as both:
            self.client.reschedule(task_id, delay=60, run_at=at)
        self.assertEqual(both.exception.field, "run_at")

    def test_api_errors_carry_code_and_field(self):
        with self.assertRaises(InvalidInputError) as caught:
            self.client.schedule("py.bad", priority=12)
        self.assertEqual((caught.exception.code, caught.exception.field, caught.exception.status), ("invalid_input", "priority", 400))
        with self.assertRaises(InvalidInputError) as target:
            self.client.schedule("py.bad", target={"type": "nope"})
        self.assertEqual(target.exception.field, "target.type")

    def test_batch_answers_each_item_in_order(self):
        ids = [new_id("b0"), new_id("b1"), new_id("b2")]
        results = self.client.schedule_many([
            {"name": "py.batch", "args": [1], "id": ids[0], "delay": 600},
            {"name": "py.batch", "id": ids[1], "delay": 600, "priority": 99},
            {"name": "py.batch", "id": ids[2], "run_at": "2031-01-01T00:00:00Z"},
        ])
        self.assertEqual(len(results), 3)
        self.assertIsInstance(results[0], tickwheel.Scheduled)
        self.assertTrue(results[0].created)
        self.assertIsInstance(results[1], InvalidInputError)
        self.assertEqual((results[1].field, results[1].status), ("priority", 400))
        self.assertEqual(results[2].id, ids[2])
        self.assertIsNone(self.client.get(ids[1]))
        self.assertEqual(self.client.get(ids[0]).args, [1])

    def test_wrong_token_and_unreachable_node(self):
        if TOKEN:
            with self.assertRaises(UnauthorizedError) as caught:
                Client(URL, token="wrong-token-wrong-token").get("x")
            self.assertEqual(caught.exception.status, 401)
        with self.assertRaises(UnavailableError) as down:
            Client("http://127.0.0.1:9", timeout=2).get("x")
        self.assertEqual(down.exception.code, "unreachable")


class ScheduleCeleryInputTest(unittest.TestCase):
    """What schedule_celery refuses before sending anything."""

    def setUp(self):
        self.client = Client(URL, token=TOKEN)

    def test_exactly_one_of_countdown_and_eta(self):
        at = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
        with self.assertRaises(InvalidInputError) as both:
            self.client.schedule_celery("app.tasks.x", [], countdown=10, eta=at)
        self.assertEqual(both.exception.field, "countdown")
        with self.assertRaises(InvalidInputError) as neither:
            self.client.schedule_celery("app.tasks.x", [])
        self.assertEqual(neither.exception.field, "eta")

    def test_naive_eta_and_bad_args_are_refused(self):
        with self.assertRaises(InvalidInputError) as naive:
            self.client.schedule_celery("app.tasks.x", [], eta=dt.datetime(2031, 1, 1))
        self.assertEqual(naive.exception.field, "eta")
        with self.assertRaises(InvalidInputError) as args:
            self.client.schedule_celery("app.tasks.x", "abc", countdown=1)
        self.assertEqual(args.exception.field, "args")
        with self.assertRaises(InvalidInputError) as negative:
            self.client.schedule_celery("app.tasks.x", [], countdown=-1)
        self.assertEqual(negative.exception.field, "countdown")


if __name__ == "__main__":
    unittest.main()
