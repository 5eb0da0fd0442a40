"""People, teams, the organisation's settings and long-running jobs."""

import contextvars
import logging
import uuid

import pgtrigger
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Calendar(models.TextChoices):
    GREGORIAN = "gregorian", _("Gregorian")
    JALALI = "jalali", _("Jalali (Persian)")


class Team(models.Model):
    """A group of users working together; a manager sees and edits their team's records."""

    class Kind(models.TextChoices):
        MARKETING = "marketing", _("Marketing")
        SALES = "sales", _("Sales")
        CS = "cs", _("Customer success")
        REVOPS = "revops", _("Revenue operations")

    name = models.CharField(_("name"), max_length=120, unique=True)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)

    class Meta:
        ordering = ["name"]
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=["marketing", "sales", "cs", "revops"]),
                name="team_kind_valid",
            )
        ]

    def __str__(self):
        return self.name


class UserManager(BaseUserManager):
    use_in_migrations = True

    def get_by_natural_key(self, email):
        return self.get(email__iexact=email)

    def _create_user(self, email, password, **fields):
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **fields):
        fields.setdefault("is_staff", False)
        fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **fields)

    def create_superuser(self, email, password=None, **fields):
        fields.update(is_staff=True, is_superuser=True)
        fields.setdefault("role", User.Role.ADMIN)
        return self._create_user(email, password, **fields)


def default_email_notifications():
    """What comes by e-mail until the user chooses: what needs them, not what informs them."""
    return ["handoff_addressed", "sla_due_soon", "sla_breached", "task_due"]


class User(AbstractBaseUser, PermissionsMixin):
    """Someone on the revenue team. Logs in with their e-mail; the role decides what they
    may see and change (see shared/spec/roles.md)."""

    class Role(models.TextChoices):
        REP = "rep", _("Sales rep")
        MANAGER = "manager", _("Sales manager")
        MARKETER = "marketer", _("Marketer")
        CS = "cs", _("Customer success manager")
        EXECUTIVE = "executive", _("Executive")
        ADMIN = "admin", _("Administrator")

    # roles.md: these roles read every lead and every deal (of a live account).
    READS_EVERY_DEAL_AND_LEAD = frozenset({Role.MARKETER, Role.CS, Role.EXECUTIVE, Role.ADMIN})

    class Language(models.TextChoices):
        EN = "en", _("English")
        FA = "fa", _("Persian")

    email = models.EmailField(_("e-mail"), max_length=254, unique=True)
    full_name = models.CharField(_("full name"), max_length=200)
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.REP)
    team = models.ForeignKey(
        Team,
        verbose_name=_("team"),
        on_delete=models.PROTECT,
        related_name="members",
        null=True,
        blank=True,
    )
    language = models.CharField(
        _("language"), max_length=8, choices=Language.choices, default=Language.EN
    )
    # Empty means "the organisation's calendar".
    calendar = models.CharField(
        _("calendar"), max_length=16, choices=Calendar.choices, blank=True, default=""
    )
    latin_digits = models.BooleanField(
        _("Latin digits in Persian"),
        default=False,
        help_text=_("Show 0–9 instead of ۰–۹ when the interface is in Persian."),
    )
    toman = models.BooleanField(
        _("amounts in Rial shown in Toman"),
        default=False,
        help_text=_("One toman is ten rials; amounts are still stored in Rial."),
    )
    email_notifications = ArrayField(
        models.CharField(max_length=32),
        verbose_name=_("notifications by e-mail"),
        default=default_email_notifications,
        blank=True,
        help_text=_("The kinds of notification also sent to you by e-mail."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    is_staff = models.BooleanField(_("staff (admin site)"), default=False)
    date_joined = models.DateTimeField(_("joined"), default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["full_name"]

    class Meta:
        ordering = ["full_name"]
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
            models.CheckConstraint(
                condition=models.Q(
                    role__in=["rep", "manager", "marketer", "cs", "executive", "admin"]
                ),
                name="user_role_valid",
            ),
        ]

    def __str__(self):
        return self.full_name or self.email

    @staticmethod
    def label_expression():
        """`str(user)` in SQL."""
        from django.db.models import CharField, Value
        from django.db.models.functions import Coalesce, NullIf

        return Coalesce(NullIf("full_name", Value("")), "email", output_field=CharField())

    def clean(self):
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email).lower()

    def get_full_name(self):
        return self.full_name

    def get_short_name(self):
        return self.full_name.split(" ")[0] if self.full_name else self.email

    @property
    def effective_calendar(self):
        return self.calendar or Organisation.get().calendar


def default_weekend():
    return [5, 6]


def default_health_weights():
    return {
        "inactivity": 30,
        "mrr_drop": 25,
        "overdue_tasks": 15,
        "open_handoff": 10,
        "renewal_uncovered": 20,
    }


log = logging.getLogger(__name__)

# Per-request memo of rows every page reads (set by revops.middleware); None outside requests.
_request_memo: contextvars.ContextVar[dict | None] = contextvars.ContextVar(
    "request_memo", default=None
)


class Organisation(models.Model):
    """The organisation's settings: a single row (id 1), created on first use."""

    name = models.CharField(_("name"), max_length=200, default="Daramad")
    base_currency = models.CharField(
        _("base currency"),
        max_length=3,
        default="USD",
        help_text=_("ISO 4217 code; every total is converted to it."),
    )
    calendar = models.CharField(
        _("calendar"), max_length=16, choices=Calendar.choices, default=Calendar.GREGORIAN
    )
    timezone = models.CharField(_("time zone"), max_length=64, default="Asia/Tehran")
    handoff_sla_business_days = models.PositiveSmallIntegerField(
        _("handoff SLA (business days)"),
        default=2,
        help_text=_("How long the receiving team has to accept or reject a handoff."),
    )
    renewal_lead_days = models.PositiveSmallIntegerField(
        _("renewal lead time (days)"),
        default=90,
        help_text=_("How long before a subscription ends its renewal deal is created."),
    )
    health_weights = models.JSONField(
        _("health score weights"),
        default=default_health_weights,
        blank=True,
        help_text=_("Points each health component can take away from 100."),
    )
    weekend_days = ArrayField(
        models.PositiveSmallIntegerField(),
        verbose_name=_("weekend days"),
        default=default_weekend,
        blank=True,
        help_text=_("Days that do not count for SLAs: 0 = Monday … 6 = Sunday."),
    )

    class Meta:
        verbose_name = _("organisation settings")
        verbose_name_plural = _("organisation settings")
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="organisation_single_row"),
            models.CheckConstraint(
                condition=models.Q(base_currency__regex=r"^[A-Z]{3}$"),
                name="organisation_currency_iso",
            ),
        ]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        self.forget()

    def delete(self, *args, **kwargs):
        result = super().delete(*args, **kwargs)
        self.forget()
        return result

    CACHE_KEY = "organisation:1"

    @classmethod
    def forget(cls):
        """Drop the cached copies (this request's and the shared cache's). With the cache
        down the save still stands; a copy cached before the outage lives out its 5
        minutes."""
        from django.core.cache import cache

        memo = _request_memo.get()
        if memo is not None:
            memo.pop("organisation", None)
        try:
            cache.delete(cls.CACHE_KEY)
        except Exception:
            log.warning("organisation settings saved; the cache did not answer to drop its copy")

    @classmethod
    def get(cls):
        """The organisation's settings, read on nearly every request: from this request's
        memo, else the shared cache (dropped on every save; 5 minutes at most for a change
        made outside the app), else the database."""
        from django.core.cache import cache

        memo = _request_memo.get()
        if memo is not None and "organisation" in memo:
            return memo["organisation"]
        try:
            org = cache.get(cls.CACHE_KEY)
        except Exception:  # the cache (Redis) is down: the database answers
            org = None
        if org is None:
            org, _created = cls.objects.get_or_create(id=1)
            try:
                cache.set(cls.CACHE_KEY, org, 300)
            except Exception:  # the cache is down: the next call reads the database again
                log.warning("could not cache the organisation's settings")
        if memo is not None:
            memo["organisation"] = org
        return org


class FxRate(models.Model):
    """A dated exchange rate: 1 unit of `currency` is worth `rate_to_base` of the
    organisation's base currency from `valid_from` on (until the next row)."""

    currency = models.CharField(_("currency"), max_length=3)
    rate_to_base = models.DecimalField(_("rate to base"), max_digits=30, decimal_places=12)
    valid_from = models.DateField(_("valid from"))

    class Meta:
        ordering = ["currency", "-valid_from"]
        verbose_name = _("exchange rate")
        verbose_name_plural = _("exchange rates")
        constraints = [
            models.UniqueConstraint(fields=["currency", "valid_from"], name="fxrate_unique_day"),
            models.CheckConstraint(condition=models.Q(rate_to_base__gt=0), name="fxrate_positive"),
            models.CheckConstraint(
                condition=models.Q(currency__regex=r"^[A-Z]{3}$"), name="fxrate_currency_iso"
            ),
        ]

    def __str__(self):
        return f"{self.currency} {self.rate_to_base} ({self.valid_from})"


class ExportRecord(models.Model):
    """The audit trail of exports (roles.md: every export is recorded): who took which
    rows out, when. Append-only."""

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    what = models.CharField(max_length=64)
    filters = models.TextField(blank=True)
    rows = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-at"]
        verbose_name = _("export")
        verbose_name_plural = _("exports")
        triggers = [
            pgtrigger.Protect(name="export_record_no_delete", operation=pgtrigger.Delete),
            # The row count is written once, when the stream ends; nothing changes after.
            pgtrigger.Protect(
                name="export_record_set_once",
                operation=pgtrigger.Update,
                condition=pgtrigger.Q(old__rows__isnull=False),
            ),
        ]

    def __str__(self):
        return f"{self.user} exported {self.what} at {self.at:%Y-%m-%d %H:%M}"


def upload_path(upload, filename):
    return f"uploads/{upload.created_by_id}/{uuid.uuid4().hex}/{filename}"


class ImportUpload(models.Model):
    """A file uploaded in the browser to import: kept until imported (the page survives a
    reload), with the column mapping the user confirmed and the result."""

    class Status(models.TextChoices):
        MAPPING = "mapping", _("Waiting for its column mapping")
        RUNNING = "running", _("Importing")
        DONE = "done", _("Imported")
        FAILED = "failed", _("Failed")

    created_by = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    file = models.FileField(upload_to=upload_path, max_length=500)
    original_name = models.CharField(max_length=255)
    entity = models.CharField(max_length=40, help_text="dataset file name, or 'zip'")
    mapping = models.JSONField(default=dict, blank=True)
    skip_invalid = models.BooleanField(default=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.MAPPING)
    job = models.ForeignKey("Job", on_delete=models.SET_NULL, null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)
    rejects = models.FileField(upload_to=upload_path, max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.original_name} ({self.get_status_display()})"


class Job(models.Model):
    """A long-running background job (an import, a backfill, a bulk change).

    The task that runs it holds a Postgres advisory lock keyed on the job's id for as long
    as it works, so a redelivered copy of a task that is still running exits at once, and
    it saves its progress in `checkpoint` so that a copy redelivered after a crash resumes
    where the dead one stopped. See `revops.jobs`.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    kind = models.CharField(_("kind"), max_length=64)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.QUEUED
    )
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    params = models.JSONField(default=dict, blank=True)
    checkpoint = models.JSONField(default=dict, blank=True)
    progress = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["kind", "status"])]

    def __str__(self):
        return f"{self.kind} #{self.pk} ({self.status})"


class Notification(models.Model):
    """Something that needs a user's attention, once per event: the bell and its list, and
    an e-mail when the user asked for this kind by e-mail (revops/notifications.py).

    The text is not stored: it is written from `params` in the reader's language when
    shown or sent."""

    class Kind(models.TextChoices):
        HANDOFF_ADDRESSED = "handoff_addressed", _("A handoff addressed to me or my team")
        SLA_DUE_SOON = "sla_due_soon", _("A handoff about to breach its SLA")
        SLA_BREACHED = "sla_breached", _("A handoff that breached its SLA")
        DEAL_CHANGED = "deal_changed", _("A deal of mine changed by someone else")
        TASK_DUE = "task_due", _("A task of mine due")
        RENEWAL_CREATED = "renewal_created", _("A renewal created for my account")
        GOAL_OFF_TRACK = "goal_off_track", _("A goal off track")

    class Email(models.TextChoices):
        NONE = "", _("not by e-mail")
        PENDING = "pending", _("to send")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")

    recipient = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="notifications", verbose_name=_("for")
    )
    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    # What happened, once: "handoff:12", "deal:5:v8". One notification per recipient and
    # event, whoever reports it and however often.
    event = models.CharField(_("event"), max_length=200)
    url = models.CharField(_("link"), max_length=300, blank=True)
    params = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("at"), default=timezone.now)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    email = models.CharField(
        _("e-mail"), max_length=8, choices=Email.choices, default=Email.NONE, blank=True
    )
    email_attempts = models.PositiveSmallIntegerField(default=0)
    emailed_at = models.DateTimeField(_("e-mailed at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "event", "recipient"], name="notification_once_per_event"
            ),
        ]
        indexes = [
            models.Index(fields=["recipient", "-created_at", "-id"], name="notification_inbox"),
            models.Index(
                fields=["recipient"],
                condition=models.Q(read_at__isnull=True),
                name="notification_unread",
            ),
            models.Index(
                fields=["id"],
                condition=models.Q(email="pending"),
                name="notification_email_pending",
            ),
        ]

    def __str__(self):
        return f"{self.kind} {self.event} → {self.recipient_id}"


class Merge(models.Model):
    """Two records found to be one customer (or one person), merged into the survivor:
    the values chosen field by field, every related record moved, the other record
    retired. Kept so that the survivor's history also tells the merged record's."""

    kind = models.CharField(_("kind"), max_length=16)  # account, contact, lead
    survivor_id = models.BigIntegerField(_("survivor"))
    merged_id = models.BigIntegerField(_("merged record"))
    merged_label = models.CharField(_("merged record's name"), max_length=300)
    snapshot = models.JSONField(_("merged record's values"), default=dict)
    chosen = models.JSONField(_("values taken from it"), default=list)
    moved = models.JSONField(_("related records moved"), default=dict)
    merged_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("by")
    )
    merged_at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        ordering = ["-merged_at"]
        verbose_name = _("merge")
        verbose_name_plural = _("merges")
        indexes = [models.Index(fields=["kind", "survivor_id"], name="merge_survivor")]
        constraints = [
            models.UniqueConstraint(fields=["kind", "merged_id"], name="merge_once"),
        ]

    def __str__(self):
        return f"{self.kind} {self.merged_id} → {self.survivor_id}"
