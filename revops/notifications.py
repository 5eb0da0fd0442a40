"""Notifications: one per recipient and event, in the bell and, by choice, by e-mail.

Whatever reports an event (a service as it writes, or a periodic sweep that finds a
handoff past its SLA) calls `notify()` inside the writing transaction. The row is unique
on (recipient, kind, event), so an event reported twice notifies once. E-mails go out from
Celery after the commit (`send_pending_emails`): each pending row is claimed and marked
sent in one committed statement before its e-mail leaves, so no e-mail is ever sent twice;
a send that fails is put back for the next sweep, at most `EMAIL_ATTEMPTS` times.

Texts are written when read, in the reader's language, from the row's `params`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from . import l10n
from .models import Notification, User

logger = logging.getLogger(__name__)

Kind = Notification.Kind
EMAIL_ATTEMPTS = 5
EMAIL_BATCH = 50
INSERT_BATCH = 1000


@dataclass(frozen=True)
class Notice:
    """One event to tell some people of (`exclude`: who did it, never told)."""

    recipients: Iterable[User | None]
    event: str
    url: str = ""
    params: dict | None = None
    exclude: User | None = None


def notify(
    recipients: Iterable[User | None],
    kind: str,
    event: str,
    *,
    url: str = "",
    params: dict | None = None,
    exclude: User | None = None,
) -> int:
    """Tell each active recipient (but `exclude`, who did it) about `event`, once.
    Returns how many were told for the first time."""
    return notify_each(kind, [Notice(recipients, event, url, params, exclude)])


def notify_each(kind: str, notices: Iterable[Notice]) -> int:
    """`notify` for many events of one kind (a sweep's findings): one INSERT per
    `INSERT_BATCH` rows, however many events."""
    rows = []
    for notice in notices:
        people = {u.pk: u for u in notice.recipients if u is not None and u.is_active}
        if notice.exclude is not None:
            people.pop(notice.exclude.pk, None)
        params = json.dumps(notice.params or {}, cls=DjangoJSONEncoder)
        for user in people.values():
            email = Notification.Email.PENDING if kind in user.email_notifications else ""
            rows.append([user.pk, kind, notice.event, notice.url, params, email])
    created = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), INSERT_BATCH):
            batch = rows[start : start + INSERT_BATCH]
            values = ", ".join(["(%s, %s, %s, %s, %s::jsonb, now(), %s, 0)"] * len(batch))
            # ON CONFLICT: an event reported again changes nothing and sends nothing.
            cursor.execute(
                f"""
                INSERT INTO revops_notification
                    (recipient_id, kind, event, url, params, created_at, email, email_attempts)
                VALUES {values}
                ON CONFLICT (kind, event, recipient_id) DO NOTHING
                RETURNING email
                """,  # noqa: S608 - placeholders only
                [value for row in batch for value in row],
            )
            created += [row[0] for row in cursor.fetchall()]
    if Notification.Email.PENDING in created:
        transaction.on_commit(_queue_emails)
    return len(created)


def _queue_emails() -> None:
    from .tasks import notification_emails_send

    try:
        notification_emails_send.delay()
    except Exception:  # the broker is down: the minute sweep sends them
        logger.warning("notifications: e-mail task not queued; the sweep will send it")


def team_members(team_id: int | None, *roles: str) -> list[User]:
    if not team_id:
        return []
    members = User.objects.filter(team_id=team_id, is_active=True)
    if roles:
        members = members.filter(role__in=roles)
    return list(members)


# --- Texts ---------------------------------------------------------------------------------


def text(notification: Notification) -> str:
    """What happened, in the active language (the reader's)."""
    p = notification.params
    kind = notification.kind
    if kind == Kind.HANDOFF_ADDRESSED:
        return _("%(by)s handed you %(subject)s: accept by %(due)s.") % {
            "by": p.get("by") or _("Someone"),
            "subject": p.get("subject", ""),
            "due": _moment(p.get("due")),
        }
    if kind == Kind.SLA_DUE_SOON:
        return _("The handoff of %(subject)s must be accepted by %(due)s.") % {
            "subject": p.get("subject", ""),
            "due": _moment(p.get("due")),
        }
    if kind == Kind.SLA_BREACHED:
        return _("The handoff of %(subject)s was not accepted by %(due)s.") % {
            "subject": p.get("subject", ""),
            "due": _moment(p.get("due")),
        }
    if kind == Kind.DEAL_CHANGED:
        return _("%(by)s changed your deal %(subject)s: %(what)s.") % {
            "by": p.get("by") or _("Someone"),
            "subject": p.get("subject", ""),
            "what": ", ".join(_change_label(field) for field in p.get("fields", [])),
        }
    if kind == Kind.TASK_DUE:
        return _("Your task %(subject)s is due on %(due)s.") % {
            "subject": p.get("subject", ""),
            "due": _day(p.get("due")),
        }
    if kind == Kind.RENEWAL_CREATED:
        return _("A renewal of %(subject)s was created, to close by %(due)s.") % {
            "subject": p.get("subject", ""),
            "due": _day(p.get("due")),
        }
    if kind == Kind.GOAL_OFF_TRACK:
        from metrics.labels import KPI_LABELS
        from metrics.models import Goal

        comparison = dict(Goal.Comparison.choices).get(p.get("comparison"), "")
        return _(
            "The goal “%(kpi)s %(comparison)s %(target)s” is off track: %(value)s, where "
            "%(due)s was due by now."
        ) % {
            "kpi": KPI_LABELS.get(p.get("kpi"), p.get("kpi", "")),
            "comparison": comparison,
            "target": l10n.digits(p.get("target", "")),
            "value": l10n.digits(p.get("value", "")),
            "due": l10n.digits(p.get("due", "")),
        }
    return str(notification.get_kind_display())


def _change_label(field: str) -> str:
    labels = {
        "stage": _("stage"),
        "amount": _("amount"),
        "owner": _("owner"),
        "status": _("status"),
        "expected_close_on": _("expected close"),
        "closed_on": _("close date"),
        "currency": _("currency"),
        "name": _("name"),
    }
    return labels.get(field, field)


def _moment(iso: str | None) -> str:
    from datetime import datetime

    return _isolated(l10n.format_moment(datetime.fromisoformat(iso))) if iso else ""


def _day(iso: str | None) -> str:
    from datetime import date

    return _isolated(l10n.format_day(date.fromisoformat(iso))) if iso else ""


def _isolated(text: str) -> str:
    """A date in a right-to-left sentence keeps its own order (year first): wrapped in
    Unicode's first-strong isolate marks, invisible wherever the text goes (page, e-mail,
    API). Left-to-right sentences need none."""
    return f"\u2068{text}\u2069" if translation.get_language_bidi() else text


# --- E-mail ---------------------------------------------------------------------------------


def send_pending_emails() -> dict:
    """Send every pending notification e-mail, each at most once."""
    sent = failed = 0
    while claimed := _claim_batch():
        for notification in claimed:
            try:
                _send(notification)
                sent += 1
            except Exception:
                logger.exception("notification %s: e-mail not sent", notification.pk)
                failed += 1
                Notification.objects.filter(pk=notification.pk).update(
                    email=Notification.Email.PENDING
                    if notification.email_attempts < EMAIL_ATTEMPTS
                    else Notification.Email.FAILED,
                    emailed_at=None,
                )
        if failed:
            break  # the mail server is refusing: the next sweep tries again
    return {"sent": sent, "failed": failed}


def _claim_batch() -> list[Notification]:
    """Mark a batch sent, committed, before sending it: a crash loses an e-mail rather
    than sending it twice."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE revops_notification
               SET email = 'sent', emailed_at = now(), email_attempts = email_attempts + 1
             WHERE id IN (SELECT id FROM revops_notification
                           WHERE email = 'pending'
                           ORDER BY id LIMIT %s
                             FOR UPDATE SKIP LOCKED)
            RETURNING id
            """,
            [EMAIL_BATCH],
        )
        ids = [row[0] for row in cursor.fetchall()]
    return list(Notification.objects.filter(pk__in=ids).select_related("recipient"))


def _send(notification: Notification) -> None:
    user = notification.recipient
    with translation.override(user.language):
        token = l10n.use_display(l10n.display_for(user))
        try:
            context = {
                "user": user,
                "notification": notification,
                "text": text(notification),
                "link": settings.SITE_URL.rstrip("/") + notification.url
                if notification.url
                else settings.SITE_URL,
                "settings_link": settings.SITE_URL.rstrip("/") + "/profile/",
                "rtl": user.language == "fa",
            }
            subject = render_to_string("notifications/email_subject.txt", context).strip()
            body = render_to_string("notifications/email_body.txt", context)
            html = render_to_string("notifications/email_body.html", context)
        finally:
            l10n.reset_display(token)
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split()),
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
        headers={"X-Daramad-Event": f"{notification.kind}:{notification.event}"},
    )
    message.attach_alternative(html, "text/html")
    message.send()
