from django import template
from django.utils.html import format_html, format_html_join

register = template.Library()


@register.simple_tag
def stage_options(stages, selected_id):
    """The `<option>`s of a card's stage menu in one call: a board renders hundreds of
    cards, and a template loop per card costs more than the whole database work."""
    return format_html_join(
        "",
        "{}",
        (
            (
                format_html('<option value="{}" selected>{}</option>', stage.pk, stage.name)
                if stage.pk == selected_id
                else format_html('<option value="{}">{}</option>', stage.pk, stage.name),
            )
            for stage in stages
        ),
    )
