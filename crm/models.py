"""The shared customer record: accounts, their contacts, and the activities around them.

Who may see and change what follows shared/spec/roles.md, in the `visible_to` and
`editable_by` QuerySet methods below: pages, htmx partials, the API, search and the
timeline all go through them.
"""

import uuid

import pghistory
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from django.db.models import Exists, F, OuterRef, Q
from django.db.models.functions import Coalesce, Concat, Lower
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from revops.models import User
from revops.text import Normalized


def new_external_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def account_external_id():
    return new_external_id("acc")


def contact_external_id():
    return new_external_id("con")


def activity_external_id():
    return new_external_id("act")


def _text(*fields):
    """Fields joined by spaces, nulls as empty: the input of a search document."""
    parts = []
    for field in fields:
        parts += [
            Coalesce(field, models.Value(""), output_field=models.TextField()),
            models.Value(" "),
        ]
    return Concat(*parts, output_field=models.TextField())


def email_domain(field: str):
    """SQL: the part of an e-mail address after the @ (so "acme.com" finds the people
    of acme.com)."""
    return models.Func(
        field,
        models.Value("@"),
        models.Value(2),
        function="split_part",
        output_field=models.TextField(),
    )


def search_document(*fields):
    return SearchVector(Normalized(_text(*fields)), config="simple")


def today():
    return timezone.localdate()


class Persona(models.Model):
    """A buyer persona (the admin extends the list; an import adds what it brings)."""

    name = models.CharField(_("name"), max_length=100)

    class Meta:
        ordering = ["name"]
        verbose_name = _("persona")
        verbose_name_plural = _("personas")
        constraints = [models.UniqueConstraint(Lower("name"), name="persona_name_ci_unique")]

    def __str__(self):
        return self.name


class AccountQuerySet(models.QuerySet):
    def alive(self):
        return self.filter(is_deleted=False)

    def visible_to(self, user: User):
        """Every member of the revenue team reads every (not deleted) account."""
        if not user.is_authenticated:
            return self.none()
        return self.alive()

    def editable_by(self, user: User):
        """Admins: all; managers: their team's; reps and CS: their own; others: none."""
        qs = self.visible_to(user)
        if not user.is_authenticated:
            return qs
        if user.role == User.Role.ADMIN:
            return qs
        if user.role == User.Role.MANAGER and user.team_id:
            return qs.filter(owner__team_id=user.team_id)
        if user.role in (User.Role.REP, User.Role.CS):
            return qs.filter(owner=user)
        return qs.none()

    def with_duplicate_flag(self):
        """`possible_duplicate`: another live account has the same domain."""
        same_domain = (
            Account.objects.alive()
            .filter(domain=OuterRef("domain"))
            .exclude(domain="")
            .exclude(pk=OuterRef("pk"))
        )
        return self.annotate(possible_duplicate=Exists(same_domain))


@pghistory.track(
    pghistory.InsertEvent("change"),
    pghistory.UpdateEvent("change"),
    fields=["owner", "is_deleted", "name", "domain"],
    model_name="AccountEvent",
)
class Account(models.Model):
    """A customer or prospect company: the record that marketing, sales and CS share."""

    external_id = models.CharField(
        _("external id"), max_length=100, unique=True, default=account_external_id
    )
    name = models.CharField(_("name"), max_length=200)
    domain = models.CharField(_("domain"), max_length=253, blank=True, db_index=True)
    industry = models.CharField(_("industry"), max_length=100, blank=True)
    country = models.CharField(_("country"), max_length=100, blank=True)
    tags = ArrayField(
        models.CharField(max_length=40),
        verbose_name=_("tags"),
        null=True,
        blank=True,
        help_text=_("Labels for finding and grouping records, added from the list pages."),
    )
    owner = models.ForeignKey(
        User,
        verbose_name=_("owner"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="accounts",
    )
    created_on = models.DateField(_("created on"), default=today)
    is_deleted = models.BooleanField(_("deleted"), default=False)
    deleted_at = models.DateTimeField(null=True, blank=True)
    health_score = models.PositiveSmallIntegerField(_("health"), null=True, blank=True)
    search = models.GeneratedField(
        expression=search_document("name", "domain", "industry", "country"),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    objects = AccountQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        indexes = [
            GinIndex(fields=["tags"], name="account_tags"),
            GinIndex(fields=["search"], name="account_search_gin"),
            models.Index(fields=["owner", "name"], name="account_owner_name"),
            # The accounts at risk, lowest health first (customer success dashboard).
            models.Index(
                fields=["health_score", "name"],
                name="account_health",
                condition=Q(is_deleted=False, health_score__isnull=False),
            ),
            models.Index(Lower("name"), name="account_name_lower"),
            # The deleted accounts, whose deals and activities everyone stops seeing.
            models.Index(fields=["id"], condition=Q(is_deleted=True), name="account_deleted"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(is_deleted=False) | Q(deleted_at__isnull=False),
                name="account_deleted_has_date",
            ),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("crm:account-detail", args=[self.pk])


class ContactQuerySet(models.QuerySet):
    def alive(self):
        return self.filter(is_deleted=False).filter(
            Q(account__isnull=True) | Q(account__is_deleted=False)
        )

    def visible_to(self, user: User):
        if not user.is_authenticated:
            return self.none()
        return self.alive()

    def editable_by(self, user: User):
        """A contact is edited by whoever may edit its account; one without an account by
        its creator, a manager of the creator's team, or an admin."""
        qs = self.visible_to(user)
        if not user.is_authenticated:
            return qs
        if user.role == User.Role.ADMIN:
            return qs
        accounts = Account.objects.editable_by(user)
        if user.role == User.Role.MANAGER and user.team_id:
            own_orphans = Q(account__isnull=True, created_by__team_id=user.team_id)
        elif user.role in (User.Role.REP, User.Role.CS):
            own_orphans = Q(account__isnull=True, created_by=user)
        else:
            return qs.none()
        return qs.filter(Q(account__in=accounts) | own_orphans)

    def with_duplicate_flag(self):
        """`possible_duplicate`: another live contact of the same account has this e-mail."""
        same_email = (
            Contact.objects.filter(
                is_deleted=False, account=OuterRef("account"), email=OuterRef("email")
            )
            .exclude(email="")
            .exclude(pk=OuterRef("pk"))
        )
        return self.annotate(possible_duplicate=Exists(same_email))


@pghistory.track(
    pghistory.InsertEvent("change"),
    pghistory.UpdateEvent("change"),
    fields=["account", "email", "is_deleted"],
    model_name="ContactEvent",
)
class Contact(models.Model):
    """A person at an account (or not yet linked to one)."""

    external_id = models.CharField(
        _("external id"), max_length=100, unique=True, default=contact_external_id
    )
    account = models.ForeignKey(
        Account,
        verbose_name=_("account"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="contacts",
    )
    first_name = models.CharField(_("first name"), max_length=100)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    email = models.EmailField(_("e-mail"), max_length=254, blank=True)
    phone = models.CharField(_("phone"), max_length=50, blank=True)
    title = models.CharField(_("job title"), max_length=150, blank=True)
    persona = models.ForeignKey(
        Persona,
        verbose_name=_("persona"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="contacts",
    )
    created_on = models.DateField(_("created on"), default=today)
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    is_deleted = models.BooleanField(_("deleted"), default=False)
    deleted_at = models.DateTimeField(null=True, blank=True)
    search = models.GeneratedField(
        expression=search_document(
            "first_name",
            "last_name",
            "email",
            email_domain("email"),
            "phone",
            "title",
        ),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    objects = ContactQuerySet.as_manager()

    class Meta:
        ordering = ["first_name", "last_name"]
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        indexes = [
            GinIndex(fields=["search"], name="contact_search_gin"),
            models.Index(fields=["account", "email"], name="contact_account_email"),
            # The list's and the search's name order: a common prefix ("عل", "Ma") is
            # answered by reading names in order until the page is full.
            models.Index(fields=["first_name", "last_name"], name="contact_name"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(is_deleted=False) | Q(deleted_at__isnull=False),
                name="contact_deleted_has_date",
            ),
        ]

    def __str__(self):
        return self.full_name

    def get_absolute_url(self):
        return reverse("crm:contact-detail", args=[self.pk])

    @property
    def full_name(self):
        return f"{self.first_name} {self.last_name}".strip()


class ActivityQuerySet(models.QuerySet):
    def visible_to(self, user: User):
        """Activities on records the user can read (accounts and contacts: everyone; leads:
        as their lead's rules), and the user's own."""
        if not user.is_authenticated:
            return self.none()
        from pipeline.models import Lead, Opportunity

        if user.role in User.READS_EVERY_DEAL_AND_LEAD:
            # Every lead, and every deal of a live account: no list of a million ids to
            # hash (or, past work_mem, to scan again for every row).
            on_lead = Q(lead__isnull=False)
            on_deal = Q(opportunity__isnull=False) & Q(opportunity__account__is_deleted=False)
        else:
            # EXISTS probes an index for the rows at hand (a timeline page, a list page)
            # instead of hashing every deal the user may see first.
            on_lead = Q(lead__isnull=False) & Q(
                Exists(Lead.objects.visible_to(user).filter(pk=OuterRef("lead_id")))
            )
            on_deal = Q(opportunity__isnull=False) & Q(
                Exists(Opportunity.objects.visible_to(user).filter(pk=OuterRef("opportunity_id")))
            )
        # An activity on a deal is read by whoever reads the deal, even if it also names
        # the account that everyone reads.
        hidden_deal = Q(opportunity__isnull=False) & ~on_deal
        hidden_lead = Q(lead__isnull=False) & ~on_lead
        # Activities of a deleted account go with it.
        deleted = Q(account__is_deleted=True)
        on_records = Q(account__isnull=False) | Q(contact__isnull=False) | on_lead | on_deal
        return self.filter(((on_records & ~hidden_deal & ~hidden_lead) | Q(owner=user)) & ~deleted)

    def editable_by(self, user: User):
        qs = self.visible_to(user)
        if not user.is_authenticated:
            return qs
        if user.role == User.Role.ADMIN:
            return qs
        if user.role == User.Role.EXECUTIVE:
            return qs.none()
        if user.role == User.Role.MANAGER and user.team_id:
            return qs.filter(Q(owner=user) | Q(owner__team_id=user.team_id))
        return qs.filter(owner=user)


@pghistory.track(
    pghistory.InsertEvent("change"),
    pghistory.UpdateEvent("change"),
    fields=["owner", "done"],
    model_name="ActivityEvent",
)
class Activity(models.Model):
    """A call, e-mail, meeting, note or task, on an account, contact and/or lead."""

    class Kind(models.TextChoices):
        CALL = "call", _("Call")
        EMAIL = "email", _("E-mail")
        MEETING = "meeting", _("Meeting")
        NOTE = "note", _("Note")
        TASK = "task", _("Task")

    external_id = models.CharField(
        _("external id"), max_length=100, unique=True, default=activity_external_id
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    subject = models.CharField(_("subject"), max_length=300)
    body = models.TextField(_("details"), blank=True)
    account = models.ForeignKey(
        Account,
        verbose_name=_("account"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="activities",
    )
    contact = models.ForeignKey(
        Contact,
        verbose_name=_("contact"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="activities",
    )
    lead = models.ForeignKey(
        "pipeline.Lead",
        verbose_name=_("lead"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="activities",
    )
    opportunity = models.ForeignKey(
        "pipeline.Opportunity",
        verbose_name=_("deal"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="activities",
    )
    owner = models.ForeignKey(
        User,
        verbose_name=_("owner"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="activities",
    )
    occurred_on = models.DateField(_("date"), default=today)
    due_on = models.DateField(_("due on"), null=True, blank=True)
    done = models.BooleanField(_("done"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ActivityQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_on", "-id"]
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        indexes = [
            models.Index(fields=["account", "-occurred_on", "-id"], name="activity_account_time"),
            models.Index(fields=["contact", "-occurred_on"], name="activity_contact_time"),
            models.Index(fields=["lead", "-occurred_on"], name="activity_lead_time"),
            models.Index(fields=["owner", "done", "due_on"], name="activity_owner_tasks"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["call", "email", "meeting", "note", "task"]),
                name="activity_kind_valid",
            ),
        ]

    def __str__(self):
        return self.subject

    def get_absolute_url(self):
        """Activities live on the page of the record they are about."""
        if self.account_id:
            return reverse("crm:account-detail", args=[self.account_id])
        if self.contact_id:
            return reverse("crm:contact-detail", args=[self.contact_id])
        if self.lead_id:
            return reverse("pipeline:lead-detail", args=[self.lead_id])
        return reverse("crm:activity-list")

    @property
    def is_overdue(self):
        return (
            self.kind == self.Kind.TASK
            and not self.done
            and self.due_on is not None
            and self.due_on < timezone.localdate()
        )


class ChurnReason(models.Model):
    """Why a customer cancelled (the admin extends the list; an import adds what it brings)."""

    name = models.CharField(_("name"), max_length=100)

    class Meta:
        ordering = ["name"]
        verbose_name = _("churn reason")
        verbose_name_plural = _("churn reasons")
        constraints = [models.UniqueConstraint(Lower("name"), name="churnreason_name_ci_unique")]

    def __str__(self):
        return self.name


def subscription_external_id():
    return new_external_id("sub")


class SubscriptionQuerySet(models.QuerySet):
    def visible_to(self, user: User):
        """Everyone who reads the account reads its subscriptions (roles.md)."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(account__is_deleted=False)

    def editable_by(self, user: User):
        """CS on the accounts they own; admins all."""
        qs = self.visible_to(user)
        if not user.is_authenticated:
            return qs
        if user.role == User.Role.ADMIN:
            return qs
        if user.role == User.Role.CS:
            return qs.filter(account__owner=user)
        return qs.none()

    def confirmed(self):
        return self.filter(status=Subscription.Status.CONFIRMED)

    def active_on(self, day):
        """Active at the end of `day`: started on or before it, not ended by it (kpis.md)."""
        return (
            self.confirmed()
            .filter(start_on__lte=day)
            .filter(Q(end_on__isnull=True) | Q(end_on__gt=day))
        )


@pghistory.track(
    pghistory.InsertEvent("change"),
    pghistory.UpdateEvent("change"),
    fields=["status", "mrr", "currency", "start_on", "end_on", "churn_reason"],
    model_name="SubscriptionEvent",
)
class Subscription(models.Model):
    """Recurring revenue from an account. A change of plan ends one subscription and starts
    another, so history is never rewritten. A draft (from a won deal CS has not accepted
    yet) counts in no KPI."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        CONFIRMED = "confirmed", _("Confirmed")

    external_id = models.CharField(
        _("external id"), max_length=100, unique=True, default=subscription_external_id
    )
    account = models.ForeignKey(
        Account,
        verbose_name=_("account"),
        on_delete=models.PROTECT,
        related_name="subscriptions",
    )
    product = models.CharField(_("product"), max_length=200)
    mrr = models.DecimalField(_("monthly recurring revenue"), max_digits=20, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    start_on = models.DateField(_("starts on"))
    end_on = models.DateField(_("ends on"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.CONFIRMED
    )
    source_opportunity = models.ForeignKey(
        "pipeline.Opportunity",
        verbose_name=_("from deal"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="subscriptions",
    )
    replaces = models.ForeignKey(
        "self",
        verbose_name=_("replaces"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="replaced_by",
    )
    churn_reason = models.ForeignKey(
        ChurnReason,
        verbose_name=_("churn reason"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="subscriptions",
    )
    churn_note = models.TextField(_("churn note"), blank=True)
    renewal_opportunity = models.OneToOneField(
        "pipeline.Opportunity",
        verbose_name=_("renewal deal"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="renewed_subscription",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = SubscriptionQuerySet.as_manager()

    class Meta:
        ordering = ["-start_on", "-id"]
        verbose_name = _("subscription")
        verbose_name_plural = _("subscriptions")
        indexes = [
            models.Index(fields=["account", "start_on"], name="sub_account_start"),
            models.Index(fields=["status", "end_on"], name="sub_status_end"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_on__isnull=True) | Q(end_on__gt=F("start_on")),
                name="sub_end_after_start",
            ),
            models.CheckConstraint(condition=Q(mrr__gte=0), name="sub_mrr_not_negative"),
            models.CheckConstraint(
                condition=Q(status__in=["draft", "confirmed"]), name="sub_status_valid"
            ),
        ]

    def __str__(self):
        return f"{self.product} ({self.account})"

    def get_absolute_url(self):
        return reverse("crm:account-detail", args=[self.account_id])

    @property
    def is_current(self):
        return self.end_on is None or self.end_on > timezone.localdate()


class HealthScore(models.Model):
    """An account's health on a day, 0–100, with the contribution of each component, so
    that a falling score is visible as a trend and every point is explained."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="health_scores")
    computed_on = models.DateField(_("computed on"))
    score = models.PositiveSmallIntegerField(_("score"))
    components = models.JSONField(_("components"), default=list)

    class Meta:
        ordering = ["-computed_on"]
        verbose_name = _("health score")
        verbose_name_plural = _("health scores")
        constraints = [
            models.UniqueConstraint(fields=["account", "computed_on"], name="health_one_a_day"),
            models.CheckConstraint(condition=Q(score__lte=100), name="health_score_0_100"),
        ]

    def __str__(self):
        return f"{self.account}: {self.score} ({self.computed_on})"

    @property
    def band(self):
        return health_band(self.score)


AT_RISK_BELOW = 50


def health_band(score):
    if score is None:
        return "unknown"
    if score < AT_RISK_BELOW:
        return "risk"
    return "watch" if score < 70 else "good"
