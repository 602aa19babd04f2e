"""The Celery app the migration guides start from: an ordinary app a team already runs.
Nothing in it changes when tickwheel takes over the scheduling: its workers keep
consuming the same queues. (The guides' tests run a real worker on it.)"""
import os

from celery import Celery

app = Celery("app", broker=os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0"),
             backend=os.environ.get("CELERY_RESULT_BACKEND", "redis://127.0.0.1:6379/1"))
app.conf.update(task_serializer="json", accept_content=["json"], result_serializer="json", worker_prefetch_multiplier=1)


@app.task(name="app.tasks.send_email")
def send_email(to, template="welcome"):
    return {"sent": to, "template": template}


@app.task(name="app.tasks.charge_invoice")
def charge_invoice(invoice_id, amount_cents):
    return {"charged": invoice_id, "amount_cents": amount_cents}


@app.task(name="app.tasks.sync_tenant")
def sync_tenant(tenant_id):
    return {"synced": tenant_id}
