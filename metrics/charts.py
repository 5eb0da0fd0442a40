"""Charts as server-rendered SVG: no script, safe under the strict CSP (presentation
attributes, no inline styles), printable, and testable without a browser. Right-to-left
pages get mirrored charts (time and bars run from the right). Every chart comes with its
numbers as a table in the template, for screen readers."""

from __future__ import annotations

from decimal import Decimal

from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

WIDTH, HEIGHT, PAD = 640, 220, 36


def _x(position: float, rtl: bool) -> float:
    return round(WIDTH - position if rtl else position, 1)


def _scale(values, height=HEIGHT - 2 * PAD):
    numbers = [float(v) for v in values if v is not None] or [0.0]
    low, high = min(0.0, *numbers), max(0.0, *numbers)
    span = (high - low) or 1.0

    def y(value):
        return round(PAD + (high - float(value)) / span * height, 1)

    return y


def line_chart(series: list[tuple[str, list]], labels: list[str], *, rtl: bool, title: str):
    """Trend lines: `series` = [(name, [value or None per label])]."""
    count = max(len(labels), 1)
    step = (WIDTH - 2 * PAD) / max(count - 1, 1)
    y = _scale([v for _name, values in series for v in values])
    lines, dots = [], []
    for index, (name, values) in enumerate(series):
        points = [
            (_x(PAD + i * step, rtl), y(value))
            for i, value in enumerate(values)
            if value is not None
        ]
        css = f"series series-{index}"
        if len(points) > 1:
            lines.append(
                format_html(
                    '<polyline class="{}" fill="none" stroke-width="2.5" points="{}">'
                    "<title>{}</title></polyline>",
                    css,
                    " ".join(f"{px},{py}" for px, py in points),
                    name,
                )
            )
        dots += [
            format_html('<circle class="{}" cx="{}" cy="{}" r="3.5"></circle>', css, px, py)
            for px, py in points
        ]
    ticks = format_html_join(
        "",
        '<text class="tick" x="{}" y="{}" text-anchor="middle">{}</text>',
        ((_x(PAD + i * step, rtl), HEIGHT - 8, label) for i, label in enumerate(labels)),
    )
    zero = y(0)
    return _svg(
        title,
        format_html(
            '<line class="axis" x1="{}" x2="{}" y1="{}" y2="{}"></line>{}{}{}',
            PAD,
            WIDTH - PAD,
            zero,
            zero,
            mark_safe("".join(lines)),  # noqa: S308 (built with format_html above)
            mark_safe("".join(dots)),  # noqa: S308
            ticks,
        ),
    )


def waterfall(steps: list[tuple[str, Decimal, str]], *, rtl: bool, title: str):
    """A bridge from an opening to a closing total: `steps` = [(label, value, kind)] with
    kind "total" (a bar from zero), "up" or "down" (floating from the running total)."""
    count = max(len(steps), 1)
    slot = (WIDTH - 2 * PAD) / count
    running, tops = Decimal(0), []
    for _label, value, kind in steps:
        if kind == "total":
            tops.append((Decimal(0), value))
            running = value
        else:
            start = running
            running = running + value if kind == "up" else running - value
            tops.append((start, running))
    y = _scale([v for pair in tops for v in pair])
    bars = []
    for index, ((label, value, kind), (start, end)) in enumerate(zip(steps, tops, strict=True)):
        top, bottom = min(y(start), y(end)), max(y(start), y(end))
        left = PAD + index * slot + slot * 0.15
        width = slot * 0.7
        x = _x(left + width, rtl) if rtl else _x(left, rtl)
        bars.append(
            format_html(
                '<rect class="bar bar-{}" x="{}" y="{}" width="{}" height="{}">'
                "<title>{}: {}</title></rect>"
                '<text class="tick" x="{}" y="{}" text-anchor="middle">{}</text>',
                kind,
                x,
                top,
                round(width, 1),
                max(bottom - top, 1),
                label,
                value,
                _x(left + width / 2, rtl),
                HEIGHT - 8,
                label,
            )
        )
    return _svg(title, mark_safe("".join(bars)))  # noqa: S308


def bars(items: list[tuple[str, Decimal]], *, rtl: bool, title: str):
    """Horizontal bars, one per (label, value), longest first as given."""
    height = max(len(items), 1) * 28 + 12
    high = max([float(v) for _label, v in items if v] or [1.0])
    label_width = 170
    track = WIDTH - label_width - 2 * PAD
    rows = []
    for index, (label, value) in enumerate(items):
        length = round(track * float(value or 0) / high, 1) if high else 0
        top = 8 + index * 28
        start = PAD + label_width
        x = _x(start + length, rtl) if rtl else start
        label_x = _x(PAD + label_width - 8, rtl)
        rows.append(
            format_html(
                '<text class="tick" x="{}" y="{}" text-anchor="end" direction="{}">{}</text>'
                '<rect class="bar bar-up" x="{}" y="{}" width="{}" height="18">'
                "<title>{}: {}</title></rect>",
                label_x,
                top + 14,
                "rtl" if rtl else "ltr",
                label,
                x,
                top,
                max(length, 1),
                label,
                value,
            )
        )
    return _svg(title, mark_safe("".join(rows)), height=height)  # noqa: S308


def funnel(steps: list[tuple[str, int]], *, rtl: bool, title: str):
    """A funnel: centred bars narrowing with each step."""
    high = max([value for _label, value in steps] or [1]) or 1
    height = len(steps) * 40 + 10
    rows = []
    for index, (label, value) in enumerate(steps):
        width = max(round((WIDTH - 2 * PAD) * value / high, 1), 2)
        top = 6 + index * 40
        rows.append(
            format_html(
                '<rect class="bar bar-funnel" x="{}" y="{}" width="{}" height="30">'
                "<title>{}: {}</title></rect>"
                '<text class="funnel-label" x="{}" y="{}" text-anchor="middle" direction="{}">'
                "{} · {}</text>",
                round((WIDTH - width) / 2, 1),
                top,
                width,
                label,
                value,
                WIDTH / 2,
                top + 20,
                "rtl" if rtl else "ltr",
                label,
                value,
            )
        )
    return _svg(title, mark_safe("".join(rows)), height=height)  # noqa: S308


def _svg(title: str, body, height: int = HEIGHT):
    return format_html(
        '<svg class="chart" viewBox="0 0 {} {}" role="img" aria-label="{}" '
        'preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg">'
        "<title>{}</title>{}</svg>",
        WIDTH,
        height,
        title,
        title,
        body,
    )
