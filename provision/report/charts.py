"""Small inline SVG charts (donut, stacked daily bars) as strings: no JavaScript, no fetches,
so a report stays one self-contained file that renders anywhere, even offline."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from html import escape

# Colour-blind-friendly categorical palette (Tableau 10) for what matters; greys for the rest.
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f")
GREYS = ("#aab2bd", "#c9ced6", "#8f99a6", "#dde1e6", "#bcc3cc", "#9ea7b3", "#d0d5db", "#b3bac4")
OTHER_COLOUR = "#e2ddd9"
EMPTY_COLOUR = "#e6e8eb"
READ_ONLY_COLOUR = "#9fb7d3"
SIGN_IN_COLOUR = "#c9ced6"
CHANGING_COLOUR = "#f28e2b"
# The activity chart's series, bottom to top: (class in DayActivity, label, colour).
ACTIVITY_SERIES = (("read_only", "read-only", READ_ONLY_COLOUR), ("not_candidates", "sign-ins and other", SIGN_IN_COLOUR), ("changing", "console changes", CHANGING_COLOUR))


@dataclass(frozen=True)
class Slice:
    label: str
    value: int
    colour: str
    detail: str = ""  # shown under the label in the legend (e.g. the service)


def slices(items: list[tuple[str, str, int, str]], max_slices: int = len(PALETTE)) -> list[Slice]:
    """(label, detail, value, colour), most frequent first -> slices; past `max_slices` the
    tail becomes one "other" slice."""
    if len(items) > max_slices:
        head, tail = items[: max_slices - 1], items[max_slices - 1 :]
        rest = sum(value for _, _, value, _ in tail)
        return [Slice(label, value, colour, detail) for label, detail, value, colour in head] + [
            Slice(f"{len(tail)} other actions", rest, OTHER_COLOUR)
        ]
    return [Slice(label, value, colour, detail) for label, detail, value, colour in items]


def donut(chart_id: str, title: str, parts: list[Slice], centre_label: str) -> str:
    """A donut with its total in the middle and a legend (label, count, share) beside it."""
    size, radius, width = 220, 80, 34
    centre = size / 2
    circumference = 2 * math.pi * radius
    total = sum(p.value for p in parts)
    rings = [
        f'<circle cx="{centre}" cy="{centre}" r="{radius}" fill="none" stroke="{EMPTY_COLOUR}" stroke-width="{width}"/>'
    ]
    offset = 0.0
    for part in parts if total else []:
        length = circumference * part.value / total
        rings.append(
            f'<circle class="slice" cx="{centre}" cy="{centre}" r="{radius}" fill="none" stroke="{part.colour}" '
            f'stroke-width="{width}" stroke-dasharray="{length:.3f} {circumference - length:.3f}" '
            f'stroke-dashoffset="{-offset:.3f}" transform="rotate(-90 {centre} {centre})">'
            f"<title>{escape(part.label)}: {part.value:,} ({_share(part.value, total)})</title></circle>"
        )
        offset += length
    rings.append(
        f'<text x="{centre}" y="{centre - 4}" text-anchor="middle" class="donut-total">{total:,}</text>'
        f'<text x="{centre}" y="{centre + 18}" text-anchor="middle" class="donut-caption">{escape(centre_label)}</text>'
    )
    svg = (
        f'<svg id="{chart_id}" class="chart donut" role="img" aria-label="{escape(title)}" '
        f'viewBox="0 0 {size} {size}" width="{size}" height="{size}">'
        + "".join(rings)
        + "</svg>"
    )
    legend = "".join(
        f'<li><span class="swatch" style="background:{p.colour}"></span>'
        f'<span class="legend-label">{escape(p.label)}<small>{escape(p.detail)}</small></span>'
        f'<span class="legend-value">{p.value:,}<small>{_share(p.value, total)}</small></span></li>'
        for p in parts
    ) or '<li class="empty">No events.</li>'
    return f'<div class="donut-chart">{svg}<ul class="legend">{legend}</ul></div>'


def activity_bars(chart_id: str, title: str, days: list[tuple[str, int, int, int]]) -> tuple[str, str, str]:
    """Stacked bars of (day, read-only, not candidates, console changes), in ACTIVITY_SERIES order
    from the bottom, over the span the data really has (:func:`dense_span`), per day, or per
    week / month when that span is long; empty periods stay as gaps so the time axis is
    honest. Returns (svg, unit, note): unit is "day", "week" or "month", note says what a few
    stray events far from the rest, left off the chart, were (empty when none)."""
    width, height = 1040, 240
    left, right, top, bottom = 48, 12, 12, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    parts = [
        f'<svg id="{chart_id}" class="chart bars" role="img" aria-label="{escape(title)}" '
        f'viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMidYMid meet">'
    ]
    if not days:
        parts.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" class="axis-label">No console events.</text></svg>')
        return "".join(parts), "day", ""
    days, note = dense_span(days)
    unit, bins = _bin(days)
    periods = _periods(bins[0][0], bins[-1][0], unit)
    slot_of = {start: i for i, start in enumerate(periods)}
    step, scale_max = _axis(max(sum(counts) for _, *counts in bins))
    for i in range(int(round(scale_max / step)) + 1):  # horizontal grid and y labels
        y = top + plot_h - plot_h * i * step / scale_max
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="axis-label">{_compact(i * step)}</text>')
    slot = plot_w / len(periods)
    bar = max(min(slot * 0.8, 40), 1.0)
    for start, *counts in bins:
        x = left + slot * slot_of[start] + (slot - bar) / 2
        y_base: float = top + plot_h
        for value, (name, kind, colour) in zip(counts, ACTIVITY_SERIES):
            if value:
                h = plot_h * value / scale_max
                y_base -= h
                parts.append(
                    f'<rect class="bar {name.replace("_", "-")}" x="{x:.2f}" y="{y_base:.2f}" width="{bar:.2f}" height="{h:.2f}" fill="{colour}">'
                    f"<title>{unit} of {start.isoformat()}: {value:,} {kind}</title></rect>"
                )
    for index in _tick_days(len(periods)):  # x labels, at most ~8; the outer ones kept inside the frame
        x = min(max(left + slot * index + slot / 2, left + 30), width - right - 30)
        label = periods[index].isoformat()[: 7 if unit == "month" else 10]
        parts.append(f'<text x="{x:.1f}" y="{height - 12}" text-anchor="middle" class="axis-label">{label}</text>')
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" class="axis"/></svg>')
    return "".join(parts), unit, note


STRAY_SHARE = 0.01      # at most this share of the events, at either end, may be left off ...
STRAY_SPAN_FACTOR = 4   # ... and only if that makes the chart's span this many times shorter


def dense_span(days: list[tuple[str, int, int, int]]) -> tuple[list[tuple[str, int, int, int]], str]:
    """The days to chart, and a note: a few events far before or after the rest (a stray old
    file among 90 days of logs) would squeeze every bar into a corner of a years-long axis, so
    they are left off the chart (and said so) when they are at most 1% of the events at each
    end and leaving them off makes the span at least 4 times shorter. Counts elsewhere keep them."""
    if len(days) < 3:
        return days, ""
    totals = [sum(counts) for _, *counts in days]
    allowance = sum(totals) * STRAY_SHARE
    first, last, running = 0, len(days) - 1, 0
    while first < last and running + totals[first] <= allowance:
        running += totals[first]
        first += 1
    running = 0
    while last > first and running + totals[last] <= allowance:
        running += totals[last]
        last -= 1
    whole = _span(days[0][0], days[-1][0])
    if (first == 0 and last == len(days) - 1) or _span(days[first][0], days[last][0]) * STRAY_SPAN_FACTOR > whole:
        return days, ""
    left_off = days[:first] + days[last + 1:]
    count = sum(totals[:first]) + sum(totals[last + 1:])
    note = (f"{count:,} console event{'' if count == 1 else 's'} from {left_off[0][0]} to {left_off[-1][0]}, far from the rest, "
            f"{'is' if count == 1 else 'are'} left off this chart so the rest can be read (every other count includes them).")
    return days[first:last + 1], note


def _span(first: str, last: str) -> int:
    return (date.fromisoformat(last) - date.fromisoformat(first)).days + 1


def _bin(days: list[tuple[str, int, int, int]]) -> tuple[str, list[tuple[date, int, int, int]]]:
    """Per day up to ~3 months, per week (from Monday) up to ~2 years, else per month."""
    first, last = date.fromisoformat(days[0][0]), date.fromisoformat(days[-1][0])
    span = (last - first).days + 1
    unit = "day" if span <= 92 else "week" if span <= 731 else "month"
    totals: dict[date, tuple[int, int, int]] = {}
    for text, *counts in days:
        start = _period_start(date.fromisoformat(text), unit)
        a, b, c = totals.get(start, (0, 0, 0))
        totals[start] = (a + counts[0], b + counts[1], c + counts[2])
    return unit, [(start, *counts) for start, counts in sorted(totals.items())]


def _period_start(day: date, unit: str) -> date:
    if unit == "week":
        return day - timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    return day


def _periods(first: date, last: date, unit: str) -> list[date]:
    out, current = [], first
    while current <= last:
        out.append(current)
        if unit == "month":
            current = date(current.year + current.month // 12, current.month % 12 + 1, 1)
        else:
            current += timedelta(days=7 if unit == "week" else 1)
    return out


def _axis(peak: int) -> tuple[float, float]:
    """A round step (1, 2 or 5 x 10^n, at least 1) and the axis maximum, about 4 steps high."""
    raw = max(peak / 4, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    return step, step * max(math.ceil(peak / step), 1)


def _tick_days(span: int, ticks: int = 8) -> list[int]:
    if span <= ticks:
        return list(range(span))
    step = math.ceil((span - 1) / (ticks - 1))
    days = list(range(0, span, step))
    if span - 1 - days[-1] < step / 2:  # too close to the last day's label
        days.pop()
    return days + [span - 1]


def _compact(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:g}M"
    if value >= 1000:
        return f"{value / 1000:g}k"
    return f"{value:g}"


def _share(value: int, total: int) -> str:
    if not total:
        return ""
    share = 100 * value / total
    return f"{share:.0f}%" if share >= 1 else "<1%"
