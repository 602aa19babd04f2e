"""Due times for the API: an aware datetime or ISO-8601 text for ``run_at``/``eta``,
a timedelta, seconds or duration text for delays.

A naive datetime is refused (``InvalidInputError``), never read as local time or
UTC: guessing its zone silently moves a task by hours, and Celery itself reads a
naive ``eta`` in the app's ``timezone`` setting, which tickwheel cannot know.
Attach a zone (``datetime.now(timezone.utc)``, ``zoneinfo.ZoneInfo(...)``).
"""
import datetime as _dt
import math
from typing import Union

from .errors import InvalidInputError

Instant = Union[_dt.datetime, str, int]
Delay = Union[_dt.timedelta, str, int, float]


def instant_value(value: Instant, field: str) -> Union[str, int]:
    """The API's form of a time: ISO text with an offset for datetimes, epoch ms for ints, text as given."""
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
            raise InvalidInputError("invalid_input", "expected a timezone-aware datetime (a naive one has no zone to read it in)", field)
        return value.isoformat()
    if isinstance(value, bool):
        raise InvalidInputError("invalid_input", "expected a datetime, ISO-8601 text or epoch ms", field)
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return value
    raise InvalidInputError("invalid_input", "expected a datetime, ISO-8601 text or epoch ms", field)


def delay_ms(value: Delay, field: str) -> Union[int, str]:
    """The API's delay: ms for a timedelta or a number of seconds, duration text ("90s", "7d") as given."""
    if isinstance(value, bool):
        raise InvalidInputError("invalid_input", "expected seconds, a timedelta or a duration such as \"10m\"", field)
    if isinstance(value, _dt.timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        return value
    else:
        raise InvalidInputError("invalid_input", "expected seconds, a timedelta or a duration such as \"10m\"", field)
    if not math.isfinite(seconds) or seconds < 0:
        raise InvalidInputError("invalid_input", "expected a delay >= 0", field)
    return int(round(seconds * 1000))
