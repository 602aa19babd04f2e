"""Typed errors. Every failure the API answers becomes one of these, carrying the
API's error ``code`` (e.g. ``invalid_input``), the ``field`` it names (e.g.
``target.task``) when there is one, and the HTTP ``status``.

Input the client itself refuses before sending (a naive datetime, both
``countdown`` and ``eta``) raises ``InvalidInputError`` with ``status`` None, so
callers catch one type for "my input was wrong" wherever it was noticed.
"""
from typing import Any, Dict, Optional


class TickwheelError(Exception):
    """Base class: ``code``, ``message``, ``field`` (or None) and ``status`` (or None). In the answer of a
    batch (``put_schedules``), ``index`` is the item's position; None elsewhere."""

    index: Optional[int] = None

    def __init__(self, code: str, message: str, field: Optional[str] = None, status: Optional[int] = None):
        super().__init__(f"{field}: {message}" if field else message)
        self.code = code
        self.message = message
        self.field = field
        self.status = status

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, field={self.field!r}, status={self.status!r}, message={self.message!r})"


class InvalidInputError(TickwheelError, ValueError):
    """400/413/415/422: the request was refused; nothing was stored. ``field`` names the culprit."""


class UnauthorizedError(TickwheelError):
    """401: missing or wrong bearer token (``TICKWHEEL_API_TOKEN``)."""


class NotFoundError(TickwheelError):
    """404: no task with this id (never scheduled, or its retention passed), or no schedule of this name."""


class ConflictError(TickwheelError):
    """409: the task is past the point where the change applies (``task`` is its current view), or a
    schedule kept changing under a write (try again)."""

    def __init__(self, code: str, message: str, field: Optional[str] = None, status: Optional[int] = None, task: Any = None):
        super().__init__(code, message, field, status)
        self.task = task


class UnavailableError(TickwheelError):
    """503, or the node could not be reached at all (``code`` ``unreachable``): try again."""


_BY_STATUS = {400: InvalidInputError, 413: InvalidInputError, 415: InvalidInputError, 422: InvalidInputError,
              401: UnauthorizedError, 404: NotFoundError, 409: ConflictError, 503: UnavailableError}


def error_from_response(status: int, body: Any) -> TickwheelError:
    """The typed error for a non-2xx answer; a body without the error shape still gets a code."""
    detail: Dict[str, Any] = body.get("error", {}) if isinstance(body, dict) and isinstance(body.get("error"), dict) else {}
    code = str(detail.get("code") or f"http_{status}")
    message = str(detail.get("message") or f"HTTP {status}")
    field = detail.get("field")
    cls = _BY_STATUS.get(status, TickwheelError)
    return cls(code, message, field, status)
