"""tickwheel's Python client: schedule, read, cancel and reschedule tasks on a tickwheel node over
its HTTP API, keep recurring schedules (cron or every) there, and hand Celery tasks to tickwheel
instead of ``apply_async(countdown=…)``.
Standard library only; Python >= 3.9."""
from .client import Client, Scheduled, Task, default_client, schedule_celery, task_body
from .schedules import Schedule, SchedulePage, SchedulePut, ScheduleStored, schedule_body
from .errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    TickwheelError,
    UnauthorizedError,
    UnavailableError,
)

__version__ = "0.1.0"

__all__ = [
    "Client", "Scheduled", "Task", "default_client", "schedule_celery", "task_body",
    "Schedule", "SchedulePage", "SchedulePut", "ScheduleStored", "schedule_body",
    "TickwheelError", "InvalidInputError", "UnauthorizedError", "NotFoundError", "ConflictError", "UnavailableError",
]
