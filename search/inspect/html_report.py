"""``actsearch report RUN``: one self-contained HTML page about a search.

The page opens offline in any browser and can be mailed or attached to a
paper's supplement: no scripts, and no fonts, style sheets or images from
anywhere (figures are inline SVG, the CSS is in the page); it fits a laptop's
width and prints. It reads the store read-only, from one snapshot
(``search.inspect.run_summary``), so a report can be made while the search runs. Every
text from the store or the config (expressions, error messages, notes, the
config itself) is HTML-escaped (``search.inspect.html_parts``): the page shows any
text, it never runs it.

Sections: the run at a glance; best reward so far (against functions scored
and wall time, with random search's expectation where it can be computed); the
top-k table; each top function (f, f', learning curves, its evaluations); the
reward distribution and the failures grouped by reason; the rerank and compare
tables when the run has them; the surrogate's predictions against measured
rewards when there are any (``surrogate_section``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from search.errors import UserError
from search.inspect.config_view import used_config_yaml
from search.inspect.formats import TIE_NOTE, beta_fmt, rank_label, tied_with
from search.inspect.html_parts import (
    Html,
    code_spans,
    duration,
    join,
    markdown_html,
    moment,
    number,
    page,
    table,
    tag,
)
from search.inspect.math_text import GUARDS, unicode_math
from search.inspect.run_summary import (
    COMPARE_DIR,
    RERANK_DIR,
    STATUS_MEANING,
    FailureGroup,
    Overview,
    RunSummary,
    TopRow,
    has_study,
)
from search.outputs import output as written
from search.store import DB_NAME, Store
from search.studies.stats import Summary
from space import ParseError, parse

MAX_K = 100
REPORT_NAME = "report.html"


class ReportPageError(UserError, ValueError):
    """A report that cannot be written as asked (one line)."""


# -- cells -------------------------------------------------------------------------------


def math_cell(text: str) -> Html:
    """Readable math above the parseable text (what `actsearch show` accepts)."""
    try:
        pretty = unicode_math(parse(text))
    except (ParseError, ValueError):  # text of another version's grammar: shown as it is
        pretty = text
    return join([tag("span", pretty, class_="math"), tag("code", text)])


def interval(summary: Summary | None, mean: bool = True) -> str:
    """``mean [low, high]`` (95% interval of the mean), or only the interval."""
    if summary is None:
        return "–"
    bounds = f"[{summary.low:.4f}, {summary.high:.4f}]"
    return f"{summary.mean:.4f} {bounds}" if mean else bounds


def beta_text(row: TopRow) -> str:
    b = row.beta
    return "–" if b is None else f"{beta_fmt(b.mean)} [{beta_fmt(b.low)}, {beta_fmt(b.high)}]"


def error_cell(error: str | None) -> Any:
    """Short errors as text; long or multi-line ones folded under their first line."""
    text = (error or "").strip()
    if not text:
        return "–"
    first = text.splitlines()[0]
    if first == text and len(first) <= 120:
        return text
    return tag("details", join([tag("summary", first[:120]), tag("pre", text)]))


def reward_label(config: dict[str, Any]) -> str:
    """What the reward is, in words, from the run's task."""
    task = config.get("task", {})
    name = task.get("name", "cifar10-resnet")
    if name == "table":
        return "reward (replayed from the table)"
    if ":" in name:
        metric = task.get("reward", "reward")
        return metric if task.get("maximize", True) else f"−{metric}"
    return "validation accuracy"


def _seeds(seeds: Sequence[int]) -> str:
    listed = ", ".join(str(s) for s in seeds)
    return f"one training per function (seed {listed})" if len(seeds) == 1 else \
        f"{len(seeds)} trainings per function (seeds {listed}); its reward is their mean"


def section(key: str, title: str, *parts: Any) -> Html:
    return tag("section", join([tag("h2", title), *parts]), id=key)


# -- sections ------------------------------------------------------------------------------


def overview_section(view: Overview) -> Html:
    config = view.config
    space, strategy, task = (config.get(key) or {} for key in ("space", "strategy", "task"))
    budget, backend = config.get("budget") or {}, config.get("backend") or {}
    units = space.get("units", 1)
    operators = (f"unary {', '.join(space.get('unary') or ['all 25'])}; "
                 f"binary {', '.join(space.get('binary') or ['all 10'])}")
    size = f"{view.space_size:,} token sequences" if view.space_size else "size unknown"
    if view.space_functions:
        size += f", {view.space_functions:,} distinct functions"
    fidelity = "; ".join(f"{key} ({count:,} child training{'s' if count != 1 else ''})"
                         for key, count in view.fidelities)
    halving = config.get("halving")
    if halving:
        fidelity += f"; successive halving over {halving.get('rungs')}, η = {halving.get('eta')}"
    limit = f" of {budget['max_evaluations']:,}" if budget.get("max_evaluations") else ""
    used = [f"{view.trained:,} child trainings{limit}" if not halving else
            f"{view.trained_first_rung:,} first-rung trainings{limit} "
            f"({view.trained:,} with the promotions)"]
    if budget.get("max_seconds"):
        used.append(f"at most {duration(budget['max_seconds'])} per invocation")
    used.append(f"{view.proposals:,} proposals" + (
        f" ({view.proposals / view.space_size:.1%} of the space's sequences)"
        if view.space_size else ""))
    rate = view.children_per_hour
    facts = [
        ("run", f"{view.name} — {view.run_dir}"),
        ("space", f"{units} unit{'s' if units != 1 else ''}: {operators} ({size})"),
        ("strategy", f"{strategy.get('name', '?')} (seed {strategy.get('seed', 0)})"),
        ("task and fidelity", f"{task.get('name', 'cifar10-resnet')}: {fidelity or '–'}"),
        ("seeds", _seeds(config.get("seeds") or [0])),
        ("backend", f"{backend.get('kind', '?')}, {backend.get('workers', '?')} workers"),
        ("code version", ", ".join(dict.fromkeys(view.code_versions)) or "–"),
        ("started", f"{moment(view.started)} ({view.invocations} invocation"
                    f"{'s' if view.invocations != 1 else ''})"),
        ("wall time", f"{duration(view.wall_seconds)} to the latest result"),
        ("budget used", "; ".join(used)),
        ("children per hour", "–" if rate is None else
         f"{rate:,.1f} ({view.trained:,} trainings, {duration(view.child_seconds)} of child "
         f"time, over the {duration(view.busy_seconds)} during which children ran)"),
    ]
    dl = tag("dl", join([join([tag("dt", k), tag("dd", v)]) for k, v in facts]), class_="facts")
    counts = view.statuses
    order = [s for s in STATUS_MEANING if s in counts] + sorted(set(counts) - set(STATUS_MEANING))
    rows = [(s, f"{counts[s]:,}", STATUS_MEANING.get(s, "")) for s in order]
    rows.append(("duplicates", f"{view.duplicates:,}",
                 "proposals of a function already in the store, answered from it"))
    statuses = table(["evaluations", "count", "meaning"], rows, numeric=[1], id="statuses")
    shown = used_config_yaml(view.config) if view.config else view.config_yaml
    config_text = tag("details", join([tag("summary", "the resolved config (what the "
                                                      "strategy used)"), tag("pre", shown)]))
    return section("overview", "The run at a glance", dl, statuses, config_text)


def progress_section(summary: RunSummary, label: str) -> Html:
    if not summary.progress.rewards:
        return section("progress", "Best reward so far",
                       tag("p", "No function has been scored yet.", class_="empty"))
    from search.inspect.report_figures import progress_figure

    figure = Html(progress_figure(summary.progress, summary.baseline, label))
    caption = ("Each point is one function's first-rung reward (the mean over its seeds), in "
               "the order the results arrived; duplicates are not counted again. Random "
               f"search: {summary.baseline.note}.")
    return section("progress", "Best reward so far",
                   tag("figure", join([figure, tag("figcaption", caption)])))


def top_section(rows: Sequence[TopRow], halving: bool, noise: str = "") -> Html:
    if not rows:
        return section("top", "Top functions",
                       tag("p", "No function has finished yet.", class_="empty"))
    reranked = [r.rerank.n for r in rows if r.rerank]
    columns = [("95% interval over seeds", any(r.interval for r in rows),
                lambda r: interval(r.interval, mean=False)),
               (f"rerank, {max(reranked, default=0)} fresh seeds: mean [95% interval]",
                bool(reranked), lambda r: interval(r.rerank)),
               ("rung", halving, lambda r: str(r.candidate.rung)),
               ("learned β: mean [min, max]", any(r.beta for r in rows), beta_text)]
    shown = [(title, cell) for title, wanted, cell in columns if wanted]
    headers = ["rank", "id", "function", "reward", "status", "seeds",
               *(title for title, _ in shown), "seconds", "proposed"]
    ties = tied_with([r.candidate for r in rows])
    body = []
    for r in rows:
        c = r.candidate
        link = tag("a", math_cell(c.text), href=f"#function-{c.id}")
        body.append([rank_label(r.rank, bool(ties[c.id])), str(c.id), link,
                     number(c.reward), c.status, str(len(r.seeds)),
                     *(cell(r) for _, cell in shown), number(c.seconds, 1), str(c.proposals)])
    numeric = [i for i, h in enumerate(headers) if h not in ("function", "status")]
    note = tag("p", code_spans(
        "Ranked as `actsearch top` ranks: trained without failure first, then the highest rung "
        "reached, then reward (the mean over seeds). Under each function its text, as "
        f"`actsearch show` takes it. Guards: {GUARDS}."), class_="note")
    caveats = [TIE_NOTE] if any(ties.values()) else []
    caveats += [noise] if noise else []
    return section("top", "Top functions",
                   table(headers, body, numeric=numeric, id="top-table"),
                   *(tag("p", code_spans(text), class_="caveat") for text in caveats), note)


def functions_section(rows: Sequence[TopRow], label: str) -> Html:
    if not rows:
        return Html("")
    from search.inspect.report_figures import function_figure

    cards = []
    for r in rows:
        c = r.candidate
        facts = [f"reward {number(c.reward)}", c.status, f"{len(r.seeds)} seed(s)",
                 f"{number(c.seconds, 1)} s of training", f"proposed {c.proposals}×"]
        if c.canonical != c.text:
            facts.append(f"canonical {c.canonical}")
        if c.note:
            facts.append(f"note: {c.note}")
        evaluations = [(str(e.id), str(e.rung), str(e.seed), e.fidelity, e.status,
                        number(e.reward), number(e.seconds, 1), e.worker or "–",
                        error_cell(e.error)) for e in r.evaluations]
        details = table(["evaluation", "rung", "seed", "fidelity", "status", "reward",
                         "seconds", "worker", "error"], evaluations, numeric=[0, 1, 2, 5, 6])
        cards.append(tag("article", join([
            tag("h3", join([f"{r.rank}. ", tag("span", math_cell(c.text), class_="title")])),
            tag("p", " · ".join(facts), class_="facts-line"),
            Html(function_figure(r, label)),
            tag("details", join([tag("summary", f"its {len(evaluations)} evaluation(s)"),
                                 details]))]),
            id=f"function-{c.id}", class_="function"))
    intro = tag("p", "f(x) and f′(x) on [−6, 6] at β = 1 (and at the learned mean β when the "
                     "task reported it) beside ReLU and Swish; train loss and validation "
                     "accuracy over training, one line per seed and rung.", class_="note")
    return section("functions", "The top functions, one by one", intro, join(cards))


def rewards_section(rewards: Sequence[float], failures: Sequence[FailureGroup],
                    label: str) -> Html:
    parts: list[Any] = []
    if rewards:
        import numpy as np

        from search.inspect.report_figures import histogram_figure

        levels = [("best", 1.0), ("90th percentile", 0.9), ("75th percentile", 0.75),
                  ("median", 0.5), ("25th percentile", 0.25), ("worst", 0.0)]
        quantiles = table(["of the functions trained ok", label],
                          [(name, number(float(np.quantile(rewards, q)))) for name, q in levels],
                          numeric=[1], id="quantiles")
        figure = tag("figure", join([
            Html(histogram_figure(rewards, label)),
            tag("figcaption", "First-rung rewards (mean over seeds) of the functions trained "
                              "without failure; failures get the config's failure rewards and "
                              "are not drawn.")]))
        parts.append(tag("div", join([figure, quantiles]), class_="pair"))
    parts.append(tag("h3", "Failures, grouped by reason"))
    if failures:
        rows = []
        for group in failures:
            examples = join([tag("li", join([tag("code", c.text), " — ", error_cell(error)]))
                             for c, error in group.examples])
            rows.append((group.status, group.reason, f"{group.count:,}", tag("ul", examples)))
        parts.append(table(["status", "reason", "evaluations", "examples (first few)"], rows,
                           numeric=[2], id="failures"))
    else:
        parts.append(tag("p", "No failures.", class_="empty"))
    return section("rewards", "Rewards and failures", *parts)


def studies_section(run_dir: Path) -> Html:
    """The rerank and compare tables (``search.studies.compare``) of the studies in the run dir."""
    named = ((RERANK_DIR, "Re-ranked with fresh seeds"),
             (COMPARE_DIR, "Compared with baselines"))
    studies = [(folder, title) for folder, title in named if has_study(run_dir, folder)]
    if not studies:
        return Html("")
    from search.studies.compare import compare_tables, rerank_table

    parts = []
    for folder, title in studies:
        render = rerank_table if folder == RERANK_DIR else compare_tables
        with Store(run_dir / folder) as study:
            parts.append(join([tag("h3", title), markdown_html(render(study))]))
    return section("studies", "Rerank and compare", *parts)


def surrogate_section(pairs: Sequence[tuple[float, float]], label: str = "reward") -> Html:
    """Predicted against measured reward for functions a surrogate scored before they
    were trained: a scatter with the diagonal, the mean absolute error and Pearson's r.
    ``pairs``: (predicted, measured); non-finite pairs are left out. An empty string
    when there is nothing to show, so a run without a surrogate has no such section."""
    import numpy as np

    finite = [(float(p), float(m)) for p, m in pairs if math.isfinite(p) and math.isfinite(m)]
    if not finite:
        return Html("")
    from search.inspect.report_figures import surrogate_figure

    predicted, measured = np.array(finite).T
    text = f"{len(finite)} functions; mean absolute error " \
           f"{float(np.mean(np.abs(predicted - measured))):.4f}"
    if len(finite) > 2 and np.std(predicted) > 0 and np.std(measured) > 0:
        from scipy.stats import spearmanr

        text += (f"; Pearson r {float(np.corrcoef(predicted, measured)[0, 1]):.3f}, "
                 f"Spearman ρ {float(spearmanr(predicted, measured).statistic):.3f}")
    figure = tag("figure", join([Html(surrogate_figure(finite, label)),
                                 tag("figcaption", text + ".")]))
    return section("surrogate", "Surrogate: predicted against measured", figure)


# -- the page -------------------------------------------------------------------------------


TITLES = {"overview": "At a glance", "progress": "Progress", "top": "Top functions",
          "functions": "One by one", "rewards": "Rewards and failures",
          "studies": "Rerank and compare", "surrogate": "Surrogate"}


def render_report(store: Store, k: int = 10,
                  surrogate: Sequence[tuple[float, float]] | None = None) -> str:
    """The whole page for the run in ``store`` (opened read-only); ``surrogate``: the
    (predicted, measured) pairs to plot (None: the ones the run recorded)."""
    from search.inspect.run_summary import summarize_run

    if not 1 <= k <= MAX_K:
        raise ReportPageError(f"-k must be between 1 and {MAX_K}, got {k}")
    summary = summarize_run(store, k)
    view = summary.overview
    label = reward_label(view.config)
    sections = {
        "overview": overview_section(view),
        "progress": progress_section(summary, label),
        "top": top_section(summary.top, bool(view.config.get("halving")), summary.noise),
        "functions": functions_section(summary.top, label),
        "rewards": rewards_section(summary.rewards, summary.failures, label),
        "studies": studies_section(store.run_dir),
        "surrogate": surrogate_section(
            [(p, m) for _, p, m in store.prediction_pairs()] if surrogate is None else surrogate,
            label),
    }
    running = view.statuses.get("running", 0)
    lines = [tag("h1", f"actsearch report: {view.name}"),
             tag("p", f"{view.run_dir} · read {moment(summary.made)} · "
                      f"{view.finished:,} of {view.functions:,} functions finished")]
    if running:
        lines.append(tag("p", f"The search was running when this page was made: {running} "
                              "evaluation(s) in flight. Make it again for the latest.",
                         class_="running"))
    toc = [(key, TITLES[key]) for key, body in sections.items() if body]
    footer = join(["Made by ", tag("code", f"actsearch report {view.run_dir}"),
                   f" from {DB_NAME}; self-contained: no scripts, nothing fetched."])
    return page(f"actsearch report: {view.name}", join(lines), toc,
                join(list(sections.values())), footer)


def write_report(run_dir: str | Path, output: str | Path | None = None, k: int = 10) -> Path:
    """Write the page (default ``RUN_DIR/report.html``) and return its path."""
    run_dir = Path(run_dir)
    path = Path(output) if output is not None else run_dir / REPORT_NAME
    with Store(run_dir) as store:
        if "kind" in (store.config() or {}):
            raise ReportPageError(f"{run_dir} holds a rerank or compare study, not a search; "
                                  "the report of the run it was made from shows its tables "
                                  "(and the same `actsearch compare` command prints them)")
        with written(path) as tmp:  # checked before the page is made; never over a store;
            tmp.write_text(render_report(store, k), encoding="utf-8")  # never half a page
    return path
