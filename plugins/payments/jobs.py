"""Background jobs: reconciliation every 15 minutes, per tenant with payments enabled.

A payment whose webhook never came (lost, or the endpoint misconfigured) is read from
its provider and settled; one still unpaid after ``pending_expiry_minutes`` is expired
(``payments.payment.failed`` with ``status: expired``). The kernel's wrapper runs it in
the tenant's scope and commits.
"""

from __future__ import annotations

from hookspecs import JobSpec
from plugins.payments import services


def reconcile() -> dict[str, int]:
    return services.reconcile()


def specs() -> list[JobSpec]:
    return [JobSpec("payments.reconcile", reconcile, queue="default", timeout=600, retry=1,
                    cron="*/15 * * * *")]
