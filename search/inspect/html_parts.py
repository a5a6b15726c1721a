"""The pieces a static report page is built from: escaped tags, tables, number formats,
and the page itself with its style sheet (screen and print, no external resources).

Escaping is by type: ``Html`` is text already built as HTML from escaped parts;
every other value put into a tag goes through ``html.escape``. So text from a
store (an expression, an error message, a config) can only ever appear as text.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Sequence
from typing import Any

from search.inspect.formats import fmt


class Html(str):
    """Text that is already HTML (built here from escaped parts)."""


def esc(value: Any) -> Html:
    return value if isinstance(value, Html) else Html(html.escape(str(value), quote=True))


def tag(name: str, content: Any = "", **attrs: Any) -> Html:
    """``<name attrs>content</name>``; ``class_`` is ``class``, ``aria_label`` ``aria-label``;
    attributes that are None are left out."""
    attributes = "".join(f' {key.rstrip("_").replace("_", "-")}="{esc(value)}"'
                         for key, value in attrs.items() if value is not None)
    return Html(f"<{name}{attributes}>{esc(content)}</{name}>")


def join(parts: Sequence[Any], sep: str = "") -> Html:
    return Html(esc(sep).join(esc(p) for p in parts))


def table(headers: Sequence[Any], rows: Sequence[Sequence[Any]], numeric: Sequence[int] = (),
          **attrs: Any) -> Html:
    """A table in a horizontally scrolling box; columns in ``numeric`` are right-aligned."""
    def row(cells: Sequence[Any], cell: str) -> Html:
        return tag("tr", join([tag(cell, c, class_="num" if i in numeric else None)
                               for i, c in enumerate(cells)]))
    body = join([row(r, "td") for r in rows])
    return tag("div", tag("table", join([tag("thead", row(headers, "th")), tag("tbody", body)]),
                          **attrs), class_="scroll")


def markdown_html(text: str) -> Html:
    """Pipe tables and lines of text (what ``search.studies.compare`` prints) as HTML: tables,
    paragraphs, `code` spans."""
    blocks, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        if lines[i].startswith("|") and i + 1 < len(lines) and lines[i + 1].startswith("|---"):
            header = _cells(lines[i])
            rows, i = [], i + 2
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(_cells(lines[i], len(header)))
                i += 1
            numeric = [j for j, h in enumerate(header) if h in ("rank", "n", "mean", "std")]
            blocks.append(table([code_spans(h) for h in header],
                                [[code_spans(c) for c in r] for r in rows], numeric=numeric))
            continue
        if lines[i].strip():
            blocks.append(tag("p", code_spans(lines[i]), class_="note"))
        i += 1
    return join(blocks)


def _cells(line: str, count: int | None = None) -> list[str]:
    inner = line.strip().removeprefix("|").removesuffix("|")
    parts = inner.split("|", count - 1) if count else inner.split("|")  # the last keeps any |
    return [p.strip() for p in parts]


def code_spans(text: str) -> Html:
    pieces = re.split(r"`([^`]*)`", text)
    return join([tag("code", p) if j % 2 else p for j, p in enumerate(pieces)])


# -- numbers and times ------------------------------------------------------------------------


def number(value: float | None, digits: int = 4) -> str:
    """``formats.fmt``, with the page's en dash for a missing value."""
    return "–" if value is None else fmt(value, digits)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = seconds / 60
    if minutes < 90:
        return f"{minutes:.0f} min"
    hours, rest = divmod(round(minutes), 60)
    return f"{hours} h {rest:02d} min" if hours < 48 else f"{hours / 24:.1f} days"


def moment(epoch: float | None) -> str:
    return "–" if epoch is None else time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(epoch))


# -- the page ---------------------------------------------------------------------------------

STYLE = """
:root { --ink: #1d2330; --muted: #5d6675; --line: #dde1e7; --band: #f5f7fa;
        --accent: #1f5fa8; --bad: #a93226; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; color: var(--ink); background: #fff; line-height: 1.45;
       font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue",
       "DejaVu Sans", Arial, sans-serif; }
main { max-width: 1140px; margin: 0 auto; padding: 0 24px 48px; }
header.page { border-bottom: 1px solid var(--line); padding: 20px 0 12px; margin-bottom: 8px; }
header.page h1 { font-size: 1.55rem; margin: 0 0 4px; }
header.page p { margin: 2px 0; color: var(--muted); }
.running { color: var(--bad); font-weight: 600; }
nav.toc { position: sticky; top: 0; background: rgba(255,255,255,.96); z-index: 1;
          border-bottom: 1px solid var(--line); padding: 6px 0; font-size: .9rem; }
nav.toc a { margin-right: 14px; color: var(--accent); text-decoration: none; }
section { margin-top: 28px; }
h2 { font-size: 1.25rem; border-bottom: 2px solid var(--ink); padding-bottom: 3px; }
h3 { font-size: 1.05rem; margin: 18px 0 6px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 3px 18px; margin: 0 0 14px; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.scroll { overflow-x: auto; margin: 8px 0 12px; }
table { border-collapse: collapse; font-size: .88rem; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 9px; text-align: left;
         vertical-align: top; }
thead th { background: var(--band); border-bottom: 1px solid #c8ced8; vertical-align: bottom; }
tbody tr:nth-child(even) { background: #fafbfc; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num { white-space: nowrap; }
td ul { margin: 0; padding-left: 16px; }
code, pre { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono",
            monospace; font-size: .85em; }
pre { background: var(--band); padding: 8px 10px; overflow-x: auto; white-space: pre-wrap;
      overflow-wrap: anywhere; max-height: 28em; }
.math { font-family: "Cambria Math", "STIX Two Math", "Latin Modern Math", Cambria,
        "DejaVu Serif", Georgia, serif; font-size: 1.08em; display: block; white-space: nowrap; }
td .math + code, h3 .math + code { color: var(--muted); font-size: .78em; }
td code { white-space: nowrap; }
h3 .title .math { display: inline; margin-right: 10px; }
td a, h3 a { text-decoration: none; }
td a .math { color: var(--accent); }
figure { margin: 10px 0 16px; }
.pair { display: flex; flex-wrap: wrap; gap: 8px 32px; align-items: flex-start; }
.pair figure { flex: 0 1 auto; min-width: 0; max-width: 560px; }
svg.figure { display: block; max-width: 100%; height: auto; }
figcaption, .note { color: var(--muted); font-size: .86rem; max-width: 62rem; }
.empty { color: var(--muted); font-style: italic; }
article.function { border-top: 1px solid var(--line); padding-top: 4px; margin-top: 14px; }
.facts-line { margin: 2px 0 4px; color: var(--muted); font-size: .9rem; }
details summary { cursor: pointer; color: var(--accent); font-size: .9rem; }
footer { margin-top: 36px; color: var(--muted); font-size: .82rem;
         border-top: 1px solid var(--line); padding-top: 8px; }
@media (max-width: 720px) { main { padding: 0 12px 32px; }
  dl.facts { grid-template-columns: 1fr; } dl.facts dt { margin-top: 6px; } }
@media print {
  @page { margin: 14mm 12mm; }
  body { font-size: 10pt; }
  main { max-width: none; padding: 0; }
  nav.toc { display: none; }
  a, td a .math { color: inherit; text-decoration: none; }
  .scroll { overflow: visible; }
  pre { max-height: none; }
  h2, h3 { break-after: avoid; }
  figure, article.function, tr, dl.facts { break-inside: avoid; }
  section { break-before: auto; }
}
"""


def page(title: str, header: Html, toc: Sequence[tuple[str, str]], body: Html,
         footer: Html) -> str:
    """A whole HTML document: the style sheet inline, no scripts, nothing fetched."""
    links = join([tag("a", label, href=f"#{key}") for key, label in toc])
    head = join([Html('<meta charset="utf-8">'),
                 Html('<meta name="viewport" content="width=device-width, initial-scale=1">'),
                 tag("title", title), Html(f"<style>{STYLE}</style>")])
    content = join([tag("header", header, class_="page"), tag("nav", links, class_="toc"),
                    body, tag("footer", footer)])
    return f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>{head}</head>\n" \
           f"<body>{tag('main', content)}</body>\n</html>\n"
