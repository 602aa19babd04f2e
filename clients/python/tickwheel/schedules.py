"""Recurring schedules as the API shows them (``/v1/schedules``), and the JSON body of a schedule
for ``Client.put_schedule`` / ``Client.put_schedules``. What the fields mean is in the project's
docs/schedules.md; the node validates them and names the field of anything it refuses.

``every`` takes what ``delay`` takes elsewhere in this client: seconds (int or float, like Celery
beat's ``"schedule": 30.0``), a ``timedelta``, or duration text such as ``"15m"``; it is sent as
ms. ``cron`` is 5 fields (minute hour day month weekday) or 6 (seconds first), read in ``tz``.
"""
from dataclasses import dataclass, field as dataclass_field
from typing import Any, Dict, List, Mapping, Optional

from ._time import Delay, Instant, delay_ms, instant_value
from .errors import InvalidInputError


@dataclass(frozen=True)
class Schedule:
    """A schedule as ``GET /v1/schedules/:name`` shows it. Times are epoch ms; ``next`` holds the next
    fire times (up to 5) as ISO-8601 text in the schedule's zone. ``raw`` is the whole JSON answer."""

    name: str
    tz: str
    task: Dict[str, Any]
    misfire: str
    overlap: str
    paused: bool
    next: List[str]
    next_due_at: Optional[int]
    shard: int
    created_at: int
    updated_at: int
    cron: Optional[str] = None
    every_ms: Optional[int] = None
    start_at: Optional[int] = None
    end_at: Optional[int] = None
    #: The latest occurrence whose time has come: ``{"id", "at", "state"}`` (state "gone": no record left).
    last_occurrence: Optional[Dict[str, Any]] = None
    raw: Dict[str, Any] = dataclass_field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Schedule":
        return cls(
            name=data["name"], tz=data["tz"], task=data["task"], misfire=data["misfire"], overlap=data["overlap"],
            paused=data["paused"], next=list(data["next"]), next_due_at=data.get("nextDueAt"), shard=data["shard"],
            created_at=data["createdAt"], updated_at=data["updatedAt"], cron=data.get("cron"), every_ms=data.get("every"),
            start_at=data.get("startAt"), end_at=data.get("endAt"), last_occurrence=data.get("lastOccurrence"), raw=dict(data),
        )


@dataclass(frozen=True)
class SchedulePut:
    """What ``put_schedule`` answers: ``created`` is False when a schedule of this name was replaced."""

    created: bool
    schedule: Schedule


@dataclass(frozen=True)
class ScheduleStored:
    """One stored item of ``put_schedules``: ``created`` False when it replaced a schedule of this name."""

    name: str
    created: bool
    shard: int
    next_due_at: Optional[int]


@dataclass(frozen=True)
class SchedulePage:
    """One page of ``list_schedules``; ``next_cursor`` is None on the last page."""

    schedules: List[Schedule]
    next_cursor: Optional[str]


def schedule_body(
    task: str,
    args: Any = None,
    *,
    cron: Optional[str] = None,
    every: Optional[Delay] = None,
    tz: Optional[str] = None,
    target: Optional[Mapping[str, Any]] = None,
    priority: Optional[int] = None,
    max_attempts: Optional[int] = None,
    backoff: Optional[Mapping[str, int]] = None,
    timeout_ms: Optional[int] = None,
    start_at: Optional[Instant] = None,
    end_at: Optional[Instant] = None,
    misfire: Optional[str] = None,
    overlap: Optional[str] = None,
    paused: Optional[bool] = None,
) -> Dict[str, Any]:
    """The JSON body of ``PUT /v1/schedules/:name`` for ``put_schedule``'s arguments (None leaves a field out).
    Exactly one of ``cron`` and ``every`` is required; the client checks that much before sending."""
    if (cron is None) == (every is None):
        raise InvalidInputError("invalid_input", "give exactly one of cron or every", "every" if cron is not None else "cron")
    if not isinstance(task, str) or not task:
        raise InvalidInputError("invalid_input", "expected the task name of every occurrence", "task")
    template: Dict[str, Any] = {"name": task}
    if args is not None:
        template["args"] = args
    if target is not None:
        template["target"] = dict(target)
    if priority is not None:
        template["priority"] = priority
    if max_attempts is not None:
        template["maxAttempts"] = max_attempts
    if backoff is not None:
        template["backoff"] = dict(backoff)
    if timeout_ms is not None:
        template["timeoutMs"] = timeout_ms
    body: Dict[str, Any] = {"task": template}
    if cron is not None:
        body["cron"] = cron
    if every is not None:
        body["every"] = delay_ms(every, "every")
    if tz is not None:
        body["tz"] = tz
    if start_at is not None:
        body["startAt"] = instant_value(start_at, "start_at")
    if end_at is not None:
        body["endAt"] = instant_value(end_at, "end_at")
    if misfire is not None:
        body["misfire"] = misfire
    if overlap is not None:
        body["overlap"] = overlap
    if paused is not None:
        body["paused"] = paused
    return body
