import html
from functools import lru_cache

from django import template
from django.core.exceptions import ImproperlyConfigured
from django.urls import get_script_prefix, reverse
from django.utils.safestring import mark_safe
from django.utils.translation import gettext, ngettext

from revops import l10n
from revops.choices import option_tags

register = template.Library()


@register.simple_tag
def stage_options(stages, selected_id):
    """The `<option>`s of a card's stage menu in one call: a board renders hundreds of
    cards, and a template loop per card costs more than the whole database work. A board has
    a handful of distinct menus: each is built once."""
    return _stage_options(tuple((stage.pk, stage.name) for stage in stages), selected_id)


@lru_cache(maxsize=512)
def _stage_options(stages, selected_id):
    return option_tags(stages, [selected_id])


@register.simple_tag
def deal_url(deal, action=""):
    """A deal's page (or `action` page: "move") without resolving the URL again for each of
    a board's hundreds of cards: the pattern is reversed once per script prefix."""
    prefix = _deal_prefix(get_script_prefix())
    return f"{prefix}{deal.pk}/{action + '/' if action else ''}"


@lru_cache(maxsize=8)
def _deal_prefix(_script_prefix):
    url = reverse("pipeline:opportunity-detail", args=[0])
    if not url.endswith("/0/"):
        raise ImproperlyConfigured(f"unexpected deal URL {url}")
    return url[: -len("0/")]


@register.simple_tag
def options(rows, selected):
    """`<option>`s of (value, label) rows in one call (the board's owner filter lists
    every seller: hundreds of options); `selected` a value or a model instance."""
    return option_tags(rows, [getattr(selected, "pk", selected)] if selected else [])


@register.simple_tag(takes_context=True)
def board_card(context, card):
    """A deal's card on the board, as `<li>`. Built here rather than by a template per card:
    a board shows up to 300 cards, and their templates cost more than all its queries.
    Every value is escaped (`e`) as it is placed."""
    move_url = e(deal_url(card, "move"))
    when = card.expected_close_on if card.status == "open" else card.closed_on
    facts = (
        f"<strong><bdi>{e(l10n.format_money(card.amount, card.currency, places=0))}</bdi></strong>"
    )
    if when:
        facts += f' · <time datetime="{when.isoformat()}">{e(l10n.format_day(when))}</time>'
    days = ""
    if card.status == "open":
        n = card.days_in_stage
        label = ngettext("%(days)s day", "%(days)s days", n) % {"days": n}
        days = f'<span title="{e(gettext("Days in this stage"))}">{e(label)}</span>'
    score = card.meddic_score
    meta = (
        f"<span>{e(str(card.owner or '—'))}</span> {days} "
        f'<span class="badge meddic meddic-{score}" '
        f'title="{e(gettext("MEDDIC fields filled in"))}">MEDDIC {score}/6</span>'
    )
    menu = ""
    if card.editable:
        options = stage_options(context.get("stage_list", []), card.stage_id)
        menu = (
            f'<form class="move-menu" method="post" action="{move_url}" hx-post="{move_url}" '
            'hx-target="#board" hx-swap="outerHTML">'
            f'<input type="hidden" name="csrfmiddlewaretoken" '
            f'value="{e(str(context.get("csrf_token", "")))}">'
            f'<input type="hidden" name="version" value="{card.version}">'
            f'<input type="hidden" name="board_query" value="{e(context.get("query", ""))}">'
            f'<input type="hidden" name="next" value="{e(context.get("board_url", ""))}">'
            '<label><span class="visually-hidden">'
            f"{e(gettext('Move %(name)s to') % {'name': card.name})}</span> "
            f'<select name="stage">{options}</select></label> '
            f'<button type="submit" class="button small">{e(gettext("Move"))}</button></form>'
        )
    movable = " movable" if card.editable else ""
    return mark_safe(  # noqa: S308 (every value above went through e())
        f'<li class="deal-card{movable}" data-id="{card.pk}" data-version="{card.version}" '
        f'data-move-url="{move_url}"><a class="deal-name" href="{e(deal_url(card))}">'
        f"{e(card.name)}</a>"
        f'<p class="deal-account">{e(card.account.name)}</p><p class="deal-facts">{facts}</p>'
        f'<p class="deal-meta">{meta}</p>{menu}</li>'
    )


def e(text: str) -> str:
    return html.escape(text, quote=True)
