"""HTTP client of a tickwheel node's /v1 API, standard library only (Python >= 3.9).

Every call is one HTTP request (``http.client``, a fresh connection each time, so
a ``Client`` is safe to share between threads). Failures raise the typed errors of
``tickwheel.errors`` with the API's ``code`` and ``field``.
"""
import http.client
import json
import os
import socket
import urllib.parse
from dataclasses import dataclass, field as dataclass_field
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Union

from ._time import Delay, Instant, delay_ms, instant_value
from .errors import ConflictError, InvalidInputError, NotFoundError, TickwheelError, UnavailableError, error_from_response
from .schedules import Schedule, SchedulePage, SchedulePut, ScheduleStored, schedule_body

DEFAULT_URL = "http://127.0.0.1:7420"
DEFAULT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Scheduled:
    """What scheduling answers: ``created`` is False when a task with this id already existed."""

    id: str
    created: bool
    due_at: int
    shard: int


@dataclass(frozen=True)
class Task:
    """A task as ``GET /v1/tasks/:id`` shows it. Times are epoch ms. ``raw`` is the whole JSON answer."""

    id: str
    name: str
    state: str
    due_at: int
    attempt: int
    max_attempts: int
    priority: int
    args: Any
    created_at: int
    shard: int
    target: Optional[Dict[str, Any]] = None
    expires_at: Optional[int] = None
    last_error: Optional[str] = None
    result: Any = None
    progress: Any = None
    finished_at: Optional[int] = None
    celery: Optional[Dict[str, Any]] = None
    raw: Dict[str, Any] = dataclass_field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Task":
        return cls(
            id=data["id"], name=data["name"], state=data["state"], due_at=data["dueAt"], attempt=data["attempt"],
            max_attempts=data["maxAttempts"], priority=data["priority"], args=data.get("args"), created_at=data["createdAt"],
            shard=data["shard"], target=data.get("target"), expires_at=data.get("expiresAt"), last_error=data.get("lastError"),
            result=data.get("result"), progress=data.get("progress"), finished_at=data.get("finishedAt"),
            celery=data.get("celery"), raw=dict(data),
        )


class Client:
    """A node's API. ``url`` defaults to ``$TICKWHEEL_URL`` (else http://127.0.0.1:7420), ``token`` to ``$TICKWHEEL_API_TOKEN``."""

    def __init__(self, url: Optional[str] = None, token: Optional[str] = None, timeout: float = DEFAULT_TIMEOUT_S):
        self.url = (url or os.environ.get("TICKWHEEL_URL") or DEFAULT_URL).rstrip("/")
        self.token = token if token is not None else os.environ.get("TICKWHEEL_API_TOKEN")
        self.timeout = timeout
        parsed = urllib.parse.urlsplit(self.url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise InvalidInputError("invalid_input", "expected an http:// or https:// URL", "url")
        self._parsed = parsed

    # ------------------------------------------------------------------ scheduling

    def schedule(
        self,
        name: str,
        args: Any = None,
        *,
        id: Optional[str] = None,
        run_at: Optional[Instant] = None,
        delay: Optional[Delay] = None,
        priority: Optional[int] = None,
        max_attempts: Optional[int] = None,
        backoff: Optional[Mapping[str, int]] = None,
        timeout_ms: Optional[int] = None,
        expires_at: Optional[Instant] = None,
        target: Optional[Mapping[str, Any]] = None,
    ) -> Scheduled:
        """Schedules one task. ``delay`` is seconds, a timedelta or text ("10m"); ``run_at`` an aware datetime,
        ISO text or epoch ms. Neither means now. Scheduling an id that exists creates nothing (``created`` False)."""
        body = task_body(name, args, id=id, run_at=run_at, delay=delay, priority=priority, max_attempts=max_attempts,
                         backoff=backoff, timeout_ms=timeout_ms, expires_at=expires_at, target=target)
        return _scheduled(self._request("POST", "/v1/tasks", body))

    def schedule_many(self, tasks: Iterable[Mapping[str, Any]]) -> List[Union[Scheduled, TickwheelError]]:
        """Schedules up to 10,000 tasks in one request. Each item takes ``schedule``'s keyword names
        (``name``, ``args``, ``delay``, ``run_at``, …). The answer has one entry per item, in order: a
        ``Scheduled``, or the typed error that item alone would have raised (the others are still stored)."""
        bodies = [task_body(**dict(task)) for task in tasks]
        answer = self._request("POST", "/v1/tasks/batch", {"tasks": bodies})
        results: List[Union[Scheduled, TickwheelError]] = []
        for item in answer["results"]:
            if item.get("ok"):
                results.append(_scheduled(item))
            else:
                results.append(error_from_response(int(item.get("status", 400)), {"error": item.get("error")}))
        return results

    def schedule_celery(
        self,
        task: str,
        args: Sequence[Any] = (),
        kwargs: Optional[Mapping[str, Any]] = None,
        *,
        countdown: Optional[Delay] = None,
        eta: Optional[Instant] = None,
        queue: Optional[str] = None,
        priority: Optional[int] = None,
        expires: Optional[Instant] = None,
        id: Optional[str] = None,
        max_attempts: Optional[int] = None,
    ) -> Scheduled:
        """``send_email.apply_async(args, kwargs, countdown=604800)`` without a worker holding it for a week:
        tickwheel keeps the task and, when it is due, pushes one Celery message (task id = tickwheel id) onto
        ``queue`` (default ``celery``) of the node's ``TICKWHEEL_CELERY_BROKER_URL``.

        Exactly one of ``countdown`` (seconds, or a timedelta) and ``eta`` (an aware datetime) is required.
        ``priority`` is Celery's (0-9; on Redis a lower number is served first). ``expires``: a message the
        worker receives after this is revoked, not run."""
        if (countdown is None) == (eta is None):
            raise InvalidInputError("invalid_input", "give exactly one of countdown or eta", "countdown" if countdown is not None else "eta")
        if isinstance(args, (str, bytes)) or not isinstance(args, (list, tuple)):
            raise InvalidInputError("invalid_input", "expected a list or tuple of positional args", "args")
        if kwargs is not None and not isinstance(kwargs, Mapping):
            raise InvalidInputError("invalid_input", "expected a dict of keyword args", "kwargs")
        target: Dict[str, Any] = {"type": "celery", "task": task}
        if queue is not None:
            target["queue"] = queue
        if priority is not None:
            target["priority"] = priority
        if kwargs:
            target["kwargs"] = dict(kwargs)
        # tickwheel's name is the Celery task's: listings, pauses and metrics go by it.
        body = task_body(task, list(args), id=id, expires_at=expires, max_attempts=max_attempts, target=target)
        if countdown is not None:
            body["delay"] = delay_ms(countdown, "countdown")
        else:
            body["runAt"] = instant_value(eta, "eta")  # type: ignore[arg-type]
        return _scheduled(self._request("POST", "/v1/tasks", body))

    # ------------------------------------------------------------------ reading and changing

    def get(self, task_id: str) -> Optional[Task]:
        """The task, or None when no task has this id (never scheduled, or its retention passed)."""
        try:
            return Task.from_json(self._request("GET", _task_path(task_id)))
        except TickwheelError as error:
            if error.status == 404:
                return None
            raise

    def cancel(self, task_id: str) -> Task:
        """Cancels a task that has not started and returns it. ``NotFoundError`` for an unknown id;
        ``ConflictError`` (its ``task`` shows the state) once it started or finished."""
        return Task.from_json(self._request("DELETE", _task_path(task_id)))

    def reschedule(self, task_id: str, *, run_at: Optional[Instant] = None, delay: Optional[Delay] = None) -> Task:
        """Moves a task that has not started to a new due time (exactly one of ``run_at``, ``delay``)."""
        if (run_at is None) == (delay is None):
            raise InvalidInputError("invalid_input", "give exactly one of run_at or delay", "run_at")
        body = {"runAt": instant_value(run_at, "run_at")} if run_at is not None else {"delay": delay_ms(delay, "delay")}  # type: ignore[arg-type]
        return Task.from_json(self._request("PATCH", _task_path(task_id), body))

    # ------------------------------------------------------------------ recurring schedules

    def put_schedule(
        self,
        name: str,
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
    ) -> SchedulePut:
        """Creates or replaces the schedule ``name``: every occurrence is a task ``task`` with ``args`` (and
        ``target``, ``priority``, … as ``schedule`` takes them). Exactly one of ``cron`` (5 or 6 fields, read in
        ``tz``, default UTC) and ``every`` (seconds, a timedelta or text such as "15m"). Replacing takes effect
        from the next occurrence. ``InvalidInputError`` names the field of a bad value (``cron``, ``tz``, ``every``…)."""
        body = schedule_body(task, args, cron=cron, every=every, tz=tz, target=target, priority=priority, max_attempts=max_attempts,
                             backoff=backoff, timeout_ms=timeout_ms, start_at=start_at, end_at=end_at, misfire=misfire,
                             overlap=overlap, paused=paused)
        answer = self._request("PUT", _schedule_path(name), body)
        return SchedulePut(created=answer["created"], schedule=Schedule.from_json(answer["schedule"]))

    def put_schedules(self, schedules: Iterable[Mapping[str, Any]]) -> List[Union[ScheduleStored, TickwheelError]]:
        """Creates or replaces up to 10,000 schedules in one request (one per tenant, say). Each item takes
        ``put_schedule``'s keyword names (``name``, ``task``, ``args``, ``cron`` or ``every``, …). The answer has
        one entry per item, in order: a ``ScheduleStored``, or the typed error that item alone would have raised,
        with ``.index`` (its position) and ``.field``; the other items are stored regardless."""
        results: List[Union[ScheduleStored, TickwheelError, None]] = []
        bodies: List[Dict[str, Any]] = []
        positions: List[int] = []
        for index, item in enumerate(schedules):
            options = dict(item)
            name = options.pop("name", None)
            try:
                if not isinstance(name, str) or not name:
                    raise InvalidInputError("invalid_input", "expected the schedule's name", "name")
                body = schedule_body(**options)
            except (InvalidInputError, TypeError) as error:
                refused = error if isinstance(error, InvalidInputError) else InvalidInputError("invalid_input", str(error), None)
                refused.index = index
                results.append(refused)
                continue
            body["name"] = name
            bodies.append(body)
            positions.append(index)
            results.append(None)
        if bodies:
            answer = self._request("PUT", "/v1/schedules", {"schedules": bodies})
            for position, item in zip(positions, answer["results"]):
                if item.get("ok"):
                    results[position] = ScheduleStored(name=item["name"], created=item["created"], shard=item["shard"], next_due_at=item.get("nextDueAt"))
                else:
                    error = error_from_response(int(item.get("status", 400)), {"error": item.get("error")})
                    error.index = position
                    results[position] = error
        return results  # type: ignore[return-value]

    def get_schedule(self, name: str) -> Optional[Schedule]:
        """The schedule, or None when there is none of this name."""
        try:
            return Schedule.from_json(self._request("GET", _schedule_path(name)))
        except NotFoundError:
            return None

    def list_schedules(self, *, prefix: Optional[str] = None, limit: int = 50, cursor: Optional[str] = None) -> SchedulePage:
        """One page of schedules (``limit`` 1-500), optionally only names starting with ``prefix``. Pass the page's
        ``next_cursor`` as ``cursor`` for the next one (unordered: pages go shard by shard)."""
        query: Dict[str, Any] = {"limit": limit}
        if prefix:
            query["prefix"] = prefix
        if cursor:
            query["cursor"] = cursor
        answer = self._request("GET", "/v1/schedules?" + urllib.parse.urlencode(query))
        return SchedulePage(schedules=[Schedule.from_json(item) for item in answer["schedules"]], next_cursor=answer.get("nextCursor"))

    def iter_schedules(self, *, prefix: Optional[str] = None, page_size: int = 500) -> Iterator[Schedule]:
        """Every schedule (whose name starts with ``prefix``), fetched a page at a time."""
        cursor: Optional[str] = None
        while True:
            page = self.list_schedules(prefix=prefix, limit=page_size, cursor=cursor)
            yield from page.schedules
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def pause_schedule(self, name: str) -> Schedule:
        """Takes back its occurrences that have not started and plants none until resumed (idempotent).
        ``NotFoundError`` for an unknown name."""
        return Schedule.from_json(self._request("POST", _schedule_path(name) + "/pause"))

    def resume_schedule(self, name: str) -> Schedule:
        """Plants again, applying the misfire policy to the occurrences that passed while paused (idempotent).
        ``NotFoundError`` for an unknown name."""
        return Schedule.from_json(self._request("POST", _schedule_path(name) + "/resume"))

    def delete_schedule(self, name: str) -> None:
        """Deletes it and takes back its occurrences that have not started (one running finishes).
        ``NotFoundError`` for an unknown name."""
        self._request("DELETE", _schedule_path(name))

    # ------------------------------------------------------------------ transport

    def _request(self, method: str, path: str, body: Any = None) -> Any:
        headers = {"Accept": "application/json"}
        payload = None
        if body is not None:
            payload = json.dumps(body, separators=(",", ":"), allow_nan=False).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        parsed = self._parsed
        connection_class = http.client.HTTPSConnection if parsed.scheme == "https" else http.client.HTTPConnection
        connection = connection_class(parsed.hostname, parsed.port, timeout=self.timeout)
        try:
            connection.request(method, parsed.path.rstrip("/") + path, body=payload, headers=headers)
            response = connection.getresponse()
            status = response.status
            text = response.read()
        except (OSError, http.client.HTTPException) as error:
            raise UnavailableError("unreachable", f"cannot reach {self.url}: {error}", None, None) from error
        finally:
            connection.close()
        try:
            data = json.loads(text) if text else None
        except ValueError:
            data = None
        if 200 <= status < 300:
            return data
        error = error_from_response(status, data)
        if isinstance(error, ConflictError) and isinstance(data, dict) and isinstance(data.get("task"), dict):
            error.task = Task.from_json(data["task"])
        raise error


def task_body(
    name: str,
    args: Any = None,
    *,
    id: Optional[str] = None,
    run_at: Optional[Instant] = None,
    delay: Optional[Delay] = None,
    priority: Optional[int] = None,
    max_attempts: Optional[int] = None,
    backoff: Optional[Mapping[str, int]] = None,
    timeout_ms: Optional[int] = None,
    expires_at: Optional[Instant] = None,
    target: Optional[Mapping[str, Any]] = None,
) -> Dict[str, Any]:
    """The JSON body of ``POST /v1/tasks`` for ``Client.schedule``'s arguments (None leaves a field out)."""
    body: Dict[str, Any] = {"name": name}
    if args is not None:
        body["args"] = args
    if id is not None:
        body["id"] = id
    if run_at is not None:
        body["runAt"] = instant_value(run_at, "run_at")
    if delay is not None:
        body["delay"] = delay_ms(delay, "delay")
    if priority is not None:
        body["priority"] = priority
    if max_attempts is not None:
        body["maxAttempts"] = max_attempts
    if backoff is not None:
        body["backoff"] = dict(backoff)
    if timeout_ms is not None:
        body["timeoutMs"] = timeout_ms
    if expires_at is not None:
        body["expiresAt"] = instant_value(expires_at, "expires_at")
    if target is not None:
        body["target"] = dict(target)
    return body


def _task_path(task_id: str) -> str:
    if not isinstance(task_id, str) or not task_id:
        raise InvalidInputError("invalid_input", "expected a non-empty task id", "id")
    return "/v1/tasks/" + urllib.parse.quote(task_id, safe="")


def _schedule_path(name: str) -> str:
    if not isinstance(name, str) or not name:
        raise InvalidInputError("invalid_input", "expected a non-empty schedule name", "name")
    return "/v1/schedules/" + urllib.parse.quote(name, safe="")


def _scheduled(data: Mapping[str, Any]) -> Scheduled:
    return Scheduled(id=data["id"], created=data["created"], due_at=data["dueAt"], shard=data["shard"])


_default_client: Optional[Client] = None


def default_client() -> Client:
    """The client the module-level functions use: ``$TICKWHEEL_URL`` and ``$TICKWHEEL_API_TOKEN``, made once."""
    global _default_client
    if _default_client is None:
        _default_client = Client()
    return _default_client


def schedule_celery(task: str, args: Sequence[Any] = (), kwargs: Optional[Mapping[str, Any]] = None, **options: Any) -> Scheduled:
    """``Client.schedule_celery`` on the default client, so that
    ``send_email.apply_async((to,), countdown=604800)`` becomes
    ``schedule_celery("app.tasks.send_email", (to,), countdown=604800)``."""
    return default_client().schedule_celery(task, args, kwargs, **options)
