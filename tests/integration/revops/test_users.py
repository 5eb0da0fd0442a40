import pytest
from django.contrib.auth import authenticate
from django.db import DataError, IntegrityError, transaction
from django.test import RequestFactory

from revops.models import Calendar, Organisation, Team, User


@pytest.mark.django_db
def test_users_log_in_by_email_whatever_its_case():
    user = User.objects.create_user("Sara.Rahimi@Example.COM", "pw-12345-x", full_name="Sara")
    assert user.email == "sara.rahimi@example.com"
    request = RequestFactory().post("/login/")
    assert authenticate(request, username="SARA.rahimi@example.com", password="pw-12345-x") == user
    assert authenticate(request, username="sara.rahimi@example.com", password="wrong") is None


@pytest.mark.django_db
def test_an_email_is_unique_whatever_its_case():
    User.objects.create_user("a@example.com", "x", full_name="A")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(email="A@EXAMPLE.com", full_name="B")


@pytest.mark.django_db
def test_a_role_outside_the_list_is_never_stored():
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(email="x@example.com", full_name="X", role="superhero")


@pytest.mark.django_db
def test_superusers_are_admins():
    admin = User.objects.create_superuser("root@example.com", "pw", full_name="Root")
    assert (admin.role, admin.is_staff, admin.is_superuser) == (User.Role.ADMIN, True, True)


@pytest.mark.django_db
def test_a_users_calendar_defaults_to_the_organisations():
    team = Team.objects.create(name="Sales", kind=Team.Kind.SALES)
    user = User.objects.create_user("r@example.com", "pw", full_name="R", team=team)
    assert user.effective_calendar == Calendar.GREGORIAN
    organisation = Organisation.get()
    organisation.calendar = Calendar.JALALI
    organisation.save()
    assert user.effective_calendar == Calendar.JALALI
    user.calendar = Calendar.GREGORIAN
    assert user.effective_calendar == Calendar.GREGORIAN
    assert team.members.get() == user


@pytest.mark.django_db
def test_the_organisation_is_one_row():
    assert Organisation.get() == Organisation.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        Organisation.objects.create(id=2)
    with pytest.raises(IntegrityError), transaction.atomic():
        Organisation.objects.filter(pk=1).update(base_currency="usd")
    with pytest.raises(DataError), transaction.atomic():
        Organisation.objects.filter(pk=1).update(base_currency="dollars")
