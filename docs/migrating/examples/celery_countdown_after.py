# After: tickwheel holds the task until it is due, then pushes an ordinary Celery message.
import datetime as dt

from tickwheel import Client, schedule_celery

WEEK = 7 * 24 * 3600


def schedule_trial_reminder(user_id, to, countdown=WEEK):
    # was: send_email.apply_async((to,), {"template": "trial-ends"}, countdown=WEEK)
    return schedule_celery("app.tasks.send_email", (to,), {"template": "trial-ends"},
                           countdown=countdown, id=f"trial-reminder-{user_id}")


def schedule_invoice_charge(invoice_id, amount_cents, due: dt.datetime):
    # was: charge_invoice.apply_async((invoice_id, amount_cents), eta=due, queue="billing", priority=0)
    # `due` must be timezone-aware: a naive datetime raises InvalidInputError(field="eta").
    return schedule_celery("app.tasks.charge_invoice", (invoice_id, amount_cents),
                           eta=due, queue="billing", id=f"charge-{invoice_id}")


def cancel_trial_reminder(user_id, client: Client):
    # was: app.control.revoke(task_id) -- a revoke every worker must remember until the eta
    return client.cancel(f"trial-reminder-{user_id}")
