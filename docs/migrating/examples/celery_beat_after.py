# After: no `celery beat` process; the schedules live in tickwheel, which any number of nodes run.
import datetime as dt

from celery.schedules import crontab, schedule as every_schedule
from tickwheel import Client

PER_REQUEST = 10_000  # put_schedules takes up to 10,000 schedules per call


def schedule_from_beat_entry(name, entry, tz="UTC"):
    # One beat_schedule entry -> the keyword arguments of put_schedule (and one item of put_schedules).
    options = entry.get("options", {})
    target = {"type": "celery", "task": entry["task"]}
    if "queue" in options:
        target["queue"] = options["queue"]
    if entry.get("kwargs"):
        target["kwargs"] = dict(entry["kwargs"])
    item = {"name": name, "task": entry["task"], "args": list(entry.get("args", ())), "target": target}
    when = entry["schedule"]
    if isinstance(when, crontab):
        # crontab(minute=30, hour=2) -> "30 2 * * *", read in the app's timezone as beat does
        fields = (when._orig_minute, when._orig_hour, when._orig_day_of_month, when._orig_month_of_year, when._orig_day_of_week)
        item["cron"] = " ".join(str(field) for field in fields)
        item["tz"] = tz
    elif isinstance(when, every_schedule):
        item["every"] = when.run_every  # schedule(run_every=timedelta(...))
    elif isinstance(when, (int, float, dt.timedelta)):
        item["every"] = when  # seconds, as beat reads them
    else:
        raise ValueError(f"{name}: cannot translate the schedule {when!r}")
    return item


def migrate_beat_schedule(client: Client, beat_schedule, tz="UTC"):
    # was: app.conf.beat_schedule = {...} plus exactly one `celery -A app beat` process
    results = []
    for name, entry in beat_schedule.items():
        item = schedule_from_beat_entry(name, entry, tz)
        results.append(client.put_schedule(item.pop("name"), **item))
    return results


def schedule_tenant_syncs(client: Client, tenant_ids):
    # was: not possible in beat's static config; one schedule per tenant, created in bulk
    items = [{"name": f"sync-tenant-{tenant}", "task": "app.tasks.sync_tenant", "args": [tenant], "cron": "0 * * * *",
              "target": {"type": "celery", "task": "app.tasks.sync_tenant"}} for tenant in tenant_ids]
    results = []
    for start in range(0, len(items), PER_REQUEST):
        results.extend(client.put_schedules(items[start:start + PER_REQUEST]))
    return results  # per tenant: a ScheduleStored, or the error naming its field
