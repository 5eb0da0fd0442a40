"""Writes of the metrics app."""

from decimal import Decimal

from django.db import transaction

from .models import Quota


@transaction.atomic
def quotas_save(cells: dict) -> int:
    """Set quotas from a grid: {(user_id, start, end): Decimal | None}; None removes the
    quota. Returns how many rows changed."""
    changed = 0
    existing = {
        (q.user_id, q.period_start, q.period_end): q
        for q in Quota.objects.select_for_update().filter(user_id__in={key[0] for key in cells})
    }
    for key, amount in cells.items():
        current = existing.get(key)
        if amount is None:
            if current is not None:
                current.delete()
                changed += 1
        elif current is None:
            Quota.objects.create(
                user_id=key[0], period_start=key[1], period_end=key[2], amount=amount
            )
            changed += 1
        elif current.amount != Decimal(amount):
            current.amount = amount
            current.save(update_fields=["amount"])
            changed += 1
    return changed
