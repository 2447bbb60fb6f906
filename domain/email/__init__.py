"""Outgoing email through an outbox table (DESIGN section 7).

Mail is queued with `outbox.enqueue` in the same transaction as the change it reports,
and sent later by `drain.drain_outbox` (a background job) over SMTP. Delivery is at
least once: see `drain` for where a duplicate can still happen and how it is marked.
"""
