# After: the table is no longer polled. New rows schedule a tickwheel task when they are
# written (the row id is the task id: the idempotency key), and a one-off migration hands
# over the rows that are still pending.
import datetime as dt
import sqlite3

from tickwheel import Client, TickwheelError


def create_reminder(db: sqlite3.Connection, client: Client, user_email: str, run_at: dt.datetime) -> int:
    with db:
        row_id = db.execute(
            "INSERT INTO scheduled_tasks (task, args, run_at, status) VALUES (?, ?, ?, 'pending')",
            ("app.tasks.send_email", user_email, run_at.isoformat()),
        ).lastrowid
    # If the process dies here, the row stays pending and migrate_pending_rows hands it over
    # later: scheduling an id that exists creates nothing, so repeating it is safe.
    client.schedule_celery("app.tasks.send_email", (user_email,), eta=run_at, id=f"scheduled-task-{row_id}")
    with db:
        db.execute("UPDATE scheduled_tasks SET status = 'handed_over' WHERE id = ?", (row_id,))
    return row_id


def migrate_pending_rows(db: sqlite3.Connection, client: Client, batch_size: int = 1000) -> int:
    """Moves every pending row to tickwheel; safe to run twice (ids are idempotency keys)."""
    moved = 0
    while True:
        rows = db.execute(
            "SELECT id, task, args, run_at FROM scheduled_tasks WHERE status = 'pending' ORDER BY id LIMIT ?",
            (batch_size,),
        ).fetchall()
        if not rows:
            return moved
        results = client.schedule_many([
            {
                "name": task,
                "args": [args],
                "id": f"scheduled-task-{row_id}",
                "run_at": dt.datetime.fromisoformat(run_at),
                "target": {"type": "celery", "task": task},
            }
            for row_id, task, args, run_at in rows
        ])
        with db:
            for (row_id, *_), result in zip(rows, results):
                if isinstance(result, TickwheelError):
                    raise result
                db.execute("UPDATE scheduled_tasks SET status = 'handed_over' WHERE id = ?", (row_id,))
                moved += 1
