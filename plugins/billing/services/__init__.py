"""Billing's domain logic, split by responsibility; no Flask, flush never commit.

* :mod:`.plans` — plans, billing accounts, subscribed services, the plan-change rule
* :mod:`.usage` — usage events in (idempotent by ``transaction_id``), summaries
* :mod:`.invoices` — building, finalising (gapless numbers), voiding, credits
* :mod:`.collect` — payments in and out, what is payable, paying through payments
* :mod:`.dunning` — account status (overdue, suspended, reactivated), reminders

Each function runs in the scope its caller opened: tenant routes and jobs in the billed
tenant's scope, admin routes open that tenant's scope before calling in.
"""
