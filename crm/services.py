"""Writes on the customer record that are more than one form's save."""

from django.db import transaction
from django.utils import timezone

from .models import Account, Contact


@transaction.atomic
def account_delete(account: Account) -> None:
    """Soft delete: the account and its history stay in the database, out of every list."""
    Account.objects.filter(pk=account.pk).update(is_deleted=True, deleted_at=timezone.now())


@transaction.atomic
def contact_delete(contact: Contact) -> None:
    Contact.objects.filter(pk=contact.pk).update(is_deleted=True, deleted_at=timezone.now())
