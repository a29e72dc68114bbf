"""The Celery task used when CRMIFY['DELIVERY'] == "celery" (imported only then, so Celery stays optional)."""

from celery import shared_task


@shared_task(name="crmify.drain_outbox", ignore_result=True)
def drain_outbox() -> int:
    from crmify import delivery

    return delivery.drain().handled
