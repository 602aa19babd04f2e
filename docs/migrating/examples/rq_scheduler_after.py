# After: no rq-scheduler process, no rq worker whose only job is to call send_task.
import datetime as dt

from tickwheel import Client


def remind_later(client: Client, to: str, at: dt.datetime):
    # was: scheduler.enqueue_at(at, forward_to_celery, "app.tasks.send_email", [to])
    return client.schedule_celery("app.tasks.send_email", [to], eta=at, id=f"remind-{to}-{int(at.timestamp())}")


def remind_in(client: Client, to: str, delay: dt.timedelta):
    # was: scheduler.enqueue_in(delay, forward_to_celery, "app.tasks.send_email", [to])
    return client.schedule_celery("app.tasks.send_email", [to], countdown=delay)


def cancel_reminder(client: Client, task_id: str):
    # was: scheduler.cancel(job)  (or job.delete())
    return client.cancel(task_id)
