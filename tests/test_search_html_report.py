"""``actsearch report``: one self-contained HTML page, read from the store read-only.

Runs are replayed or use instant children (inline backend): a table task over
a tiny CSV, and ``noisy`` below (seed-dependent rewards, learning curves, a
learned beta) for seeds, rerank and compare. Pages are read back with
``html.parser``, as a browser would parse them.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import math
import random
import statistics
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from evaluator import Result
from search.cli import main
from search.config import config_from_text, to_dict, to_yaml
from search.inspect.html_parts import markdown_html
from search.inspect.html_report import render_report, surrogate_section, write_report
from search.inspect.math_text import unicode_math
from search.inspect.run_progress import expected_best_of
from search.inspect.run_summary import reason_key, summarize_run
from search.launch import run_search
from search.store import Store
from search.studies.stats import summarize
from space import SearchSpace, parse
from space.enumerate import unique_functions
from tests.fake_tasks import score

ROOT = Path(__file__).resolve().parent.parent
UNARY, BINARY = ["identity", "neg", "sigmoid", "tanh", "sin"], ["add", "mul", "max"]
SPACE = f"space: {{units: 1, unary: [{', '.join(UNARY)}], binary: [{', '.join(BINARY)}]}}"
SCRIPT = "<script>alert(1)</script>"
SECTIONS = ("overview", "progress", "top", "functions", "rewards")
URL_ATTRIBUTES = {"href", "src", "xlink:href", "action", "formaction", "poster", "data",
                  "srcset", "background", "cite", "longdesc", "ping", "manifest", "icon"}
FETCHING_TAGS = {"script", "link", "iframe", "object", "embed", "img", "audio", "video",
                 "source", "frame", "base"}


def noisy(expr_text: str, task, seed: int = 0, device: str | None = None) -> Result:
    """An instant child whose reward depends on the seed (by a hash), with learning curves
    and, for functions with beta, learned beta values; ``sin(x) * x`` fails with a
    script tag in its error text."""
    if parse(expr_text).canonical == parse("sin(x) * x").canonical:
        return Result(status="error", reward=0.0, error=f"RuntimeError: {SCRIPT}\n  frame 1",
                      expr=expr_text, seed=seed)
    wobble = int(hashlib.sha1(f"{expr_text}/{seed}".encode()).hexdigest()[:6], 16) / 16**6
    reward = 0.8 * score(expr_text) + 0.05 * wobble
    info = {"beta": [[0.5 + seed, 1.5], [2.0, 2.5]]} if parse(expr_text).uses_beta else {}
    return Result(status="ok", reward=reward, val_accuracy=reward, step=30,
                  curves={"step": [10.0, 20.0, 30.0], "train_loss": [2.0, 1.5 - wobble, 1.2],
                          "val_step": [15.0, 30.0], "val_accuracy": [reward / 2, reward]},
                  seconds=0.01, expr=expr_text, seed=seed, info=info)


# -- reading a page back ---------------------------------------------------------------


class Page(HTMLParser):
    """Tags with their attributes, the text, style sheets, and the tables by id (each cell's
    text and the texts of its <code> elements)."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.data: list[str] = []
        self.styles: list[str] = []
        self.tables: dict[str, list[list[dict]]] = {}
        self._table: str | None = None
        self._in = {"style": False, "code": False}
        self.feed(text)
        self.close()

    @property
    def text(self) -> str:
        return "".join(self.data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        self.tags.append((tag, values))
        if "style" in values:
            self.styles.append(values["style"])
        if tag in self._in:
            self._in[tag] = True
        if tag == "table":
            self._table = values.get("id", f"table-{len(self.tables)}")
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table:
            self.tables[self._table][-1].append({"text": "", "code": []})
        elif tag == "code" and self._table and self.tables[self._table]:
            row = self.tables[self._table][-1]
            if row:
                row[-1]["code"].append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._in:
            self._in[tag] = False
        if tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        self.data.append(data)
        if self._in["style"]:
            self.styles.append(data)
        if self._table and self.tables[self._table] and self.tables[self._table][-1]:
            cell = self.tables[self._table][-1][-1]
            cell["text"] += data
            if self._in["code"] and cell["code"]:
                cell["code"][-1] += data

    def ids(self) -> list[str]:
        return [attrs["id"] for _, attrs in self.tags if "id" in attrs]

    def rows(self, table: str) -> list[list[dict]]:
        """Body rows (the header row dropped)."""
        return self.tables[table][1:]


def assert_nothing_fetched(page: Page) -> None:
    """No element that loads a resource, no address in any attribute but fragments (#id),
    no CSS url() but url(#id), no @import. Namespace declarations (xmlns) name, they do
    not fetch, and are allowed."""
    for tag, attrs in page.tags:
        assert tag not in FETCHING_TAGS, tag
        for name, value in attrs.items():
            if name == "xmlns" or name.startswith("xmlns:"):
                continue
            if name in URL_ATTRIBUTES:
                assert value.startswith("#"), (tag, name, value)
            assert "://" not in value, (tag, name, value)
    for css in page.styles:
        assert "@import" not in css
        for target in __import__("re").findall(r"url\(\s*['\"]?([^'\")]*)", css):
            assert target.startswith("#"), target


# -- runs ------------------------------------------------------------------------------


def _table_csv(path: Path, seed: int = 0) -> dict[str, float]:
    """Rewards for most of the space's functions (a few left out: they are 'missing')."""
    rng = random.Random(seed)
    functions = [e for _, _, e in unique_functions(SearchSpace(1, UNARY, BINARY))]
    rows = {e.text: round(rng.random(), 6) for e in functions if rng.random() < 0.9}
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["expression", "reward", "seconds"])
        for text, reward in rows.items():
            writer.writerow([text, reward, 10.0])
    return rows


def _inject_script_error(run_dir: Path) -> int:
    """A stored error whose text is a script tag, recorded through the store's own API."""
    expr = parse("tanh(x) * tanh(x) * sin(x) - x")
    with Store(run_dir, writer=True) as store:
        cid, [(eid, _)] = store.add_candidate(expr.canonical, expr.text, [], expr.fingerprint,
                                              "table:rewards.csv", None, [0])
        store.record_result(eid, Result(status="error", reward=0.0,
                                        error=f"ValueError: {SCRIPT}").to_dict(), "test:1")
    return cid


@pytest.fixture(scope="module")
def table_run(tmp_path_factory) -> Path:
    """An exhaustive search replayed from a CSV, plus one stored <script> error."""
    root = tmp_path_factory.mktemp("table")
    _table_csv(root / "rewards.csv")
    config = config_from_text("\n".join([
        SPACE, "strategy: {name: exhaustive}", "backend: {kind: inline}",
        f"task: {{name: table, path: {root / 'rewards.csv'}, cost: seconds}}"]))
    run_dir, progress = run_search(config, out=root / "run")
    assert progress.stopped_by == "exhausted"
    _inject_script_error(run_dir)
    return run_dir


@pytest.fixture(scope="module")
def seeded_run(tmp_path_factory) -> Path:
    """Three seeds a function, then a rerank and a compare kept in the run directory."""
    root = tmp_path_factory.mktemp("seeded")
    config = root / "config.yaml"
    config.write_text("\n".join([
        "space: {units: 1, unary: [identity, beta_mul, sigmoid, sin], binary: [mul, max]}",
        "evaluate: tests.test_search_html_report:noisy", "backend: {kind: inline}",
        "strategy: {name: exhaustive}", "seeds: [0, 1, 2]", "budget: {max_evaluations: 45}"]))
    run_dir = root / "run"
    assert main(["run", str(config), "--out", str(run_dir)]) == 0
    assert main(["rerank", str(run_dir), "-k", "3", "--seeds", "2", "--baselines", "relu"]) == 0
    assert main(["compare", str(run_dir), "-k", "2", "--seeds", "2", "--baselines", "relu"]) == 0
    return run_dir


def _page(run_dir: Path, k: int = 10) -> tuple[str, Page]:
    with Store(run_dir) as store:
        text = render_report(store, k)
    return text, Page(text)


# -- the page of a replayed run ----------------------------------------------------------


def test_sections_and_the_top_rows_are_the_stores(table_run):
    text, page = _page(table_run, k=7)
    ids = page.ids()
    assert all(key in ids for key in SECTIONS)
    assert "studies" not in ids and "surrogate" not in ids  # no rerank, no surrogate here
    rows = page.rows("top-table")
    with Store(table_run) as store:
        top = store.top(7)
    assert len(rows) == len(top) == 7
    for rank, (row, candidate) in enumerate(zip(rows, top, strict=True), start=1):
        assert row[0]["text"] == str(rank)
        assert row[1]["text"] == str(candidate.id)
        assert row[2]["code"] == [candidate.text]
        assert row[2]["text"].startswith(unicode_math(parse(candidate.text)))
        assert row[3]["text"] == f"{candidate.reward:.4f}"
        assert row[4]["text"] == candidate.status
    # each top function has its card and its figure
    assert all(f"function-{c.id}" in ids for c in top)
    assert text.count("<svg") == 1 + len(top) + 1  # progress, one per function, histogram


def test_no_external_requests_and_unique_ids(table_run):
    text, page = _page(table_run)
    assert_nothing_fetched(page)
    assert "<!DOCTYPE svg" not in text and "<?xml" not in text
    ids = page.ids()
    assert len(ids) == len(set(ids))  # many inline figures, no id shared between them
    fragments = {a["xlink:href"][1:] for _, a in page.tags if "xlink:href" in a}
    fragments |= {a["href"][1:] for _, a in page.tags if a.get("href", "").startswith("#")}
    assert fragments <= set(ids)  # every internal reference points into the page


def test_the_checker_would_catch_an_external_request():
    for bad in ('<img src="https://example.org/x.png">', '<a href="http://example.org">x</a>',
                '<div style="background: url(https://example.org/x.png)"></div>',
                '<style>@import "https://example.org/a.css";</style>'):
        with pytest.raises(AssertionError):
            assert_nothing_fetched(Page(bad))
    assert_nothing_fetched(Page('<svg xmlns="http://www.w3.org/2000/svg" '
                                'xmlns:xlink="http://www.w3.org/1999/xlink"><use '
                                'xlink:href="#m1"/></svg>'))


def test_a_stored_script_is_shown_as_text(table_run):
    text, page = _page(table_run)
    assert not any(tag == "script" for tag, _ in page.tags)
    assert SCRIPT in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    failures = page.rows("failures")
    assert any(row[0]["text"] == "error" and SCRIPT in row[3]["text"] for row in failures)


def test_statuses_duplicates_and_the_random_baseline(table_run):
    _, page = _page(table_run)
    counts = {row[0]["text"]: int(row[1]["text"].replace(",", ""))
              for row in page.rows("statuses")}
    with Store(table_run) as store:
        assert {k: v for k, v in counts.items() if k != "duplicates"} == store.counts()
        assert counts["duplicates"] == sum(c.proposals - 1 for c in store.candidates())
        assert counts["duplicates"] > 0 and counts["missing"] > 0
        summary = summarize_run(store, 5)
        rewards = [r for _, r in store.rung_results(0).values()]
    # the exhaustive run scored the whole space: random search's curve is exact
    assert "scored every function of the space" in summary.baseline.note
    assert summary.baseline.curve[0] == pytest.approx(statistics.fmean(rewards))
    assert summary.baseline.curve[-1] == pytest.approx(max(rewards))
    assert len(summary.progress.rewards) == len(rewards)
    assert summary.progress.best_so_far[-1] == max(rewards)


def test_a_report_while_a_writer_holds_the_store(table_run, tmp_path):
    """The writer holds the run's lock and has just committed a result: the report sees
    it; a transaction the writer has open (not committed) neither blocks the report nor
    shows in it."""
    expr = parse("max(x, sigmoid(x)) + x")
    with Store(table_run, writer=True) as writer:
        cid, [(eid, _)] = writer.add_candidate(expr.canonical, expr.text, [], expr.fingerprint,
                                               "table:rewards.csv", None, [0])
        writer.record_result(eid, Result(status="ok", reward=2.0).to_dict(), "test:2")
        with writer.transaction("hold the write lock") as db:
            db.execute("UPDATE candidates SET reward=9.0, reward_text='9.0' WHERE id=?", (cid,))
            path = write_report(table_run, tmp_path / "live.html", k=3)
            page = Page(path.read_text())
        first = page.rows("top-table")[0]
        assert first[1]["text"] == str(cid) and first[3]["text"] == "2.0000"
    assert main(["report", str(table_run), "-o", str(tmp_path / "after.html")]) == 0
    assert Page((tmp_path / "after.html").read_text()).rows("top-table")[0][1]["text"] == str(cid)


# -- several seeds, rerank, compare --------------------------------------------------------


def test_seeds_intervals_beta_rerank_and_compare(seeded_run):
    _, page = _page(seeded_run, k=4)
    assert "studies" in page.ids()
    headers = [cell["text"] for cell in page.tables["top-table"][0]]
    rerank = "rerank, 2 fresh seeds: mean [95% interval]"
    assert "95% interval over seeds" in headers and rerank in headers
    assert "learned β: mean [min, max]" in headers
    rows = page.rows("top-table")
    with Store(seeded_run) as store:
        top = store.top(4)
        for row, candidate in zip(rows, top, strict=True):
            assert row[1]["text"] == str(candidate.id)
            rewards = [e.reward for e in store.evaluations(candidate.id)]
            assert row[5]["text"] == "3"
            s = summarize(rewards)
            cell = row[headers.index("95% interval over seeds")]["text"]
            assert cell == f"[{s.low:.4f}, {s.high:.4f}]"
            beta = row[headers.index("learned β: mean [min, max]")]["text"]
            if parse(candidate.text).uses_beta:  # per seed: 0.5 + seed, 1.5, 2.0, 2.5
                assert beta == "1.88 [0.500, 2.50]"  # mean 22.5 / 12
            else:
                assert beta == "–"
    reranked = [r for r in rows if r[headers.index(rerank)]["text"] != "–"]
    assert len(reranked) == 3  # the rerank took the top 3
    text = page.text
    assert "re-ranked with 2 fresh seeds" in text and "median reward (%)" in text
    assert SCRIPT in text  # sin(x) * x failed with it, three seeds
    assert_nothing_fetched(page)


def test_the_rung_column_with_successive_halving(tmp_path):
    config = tmp_path / "halving.yaml"
    config.write_text("\n".join([SPACE, "evaluate: tests.fake_tasks:instant",
                                 "backend: {kind: inline}", "strategy: {name: exhaustive}",
                                 "halving: {rungs: [10, 30], eta: 3}"]))
    assert main(["run", str(config), "--out", str(tmp_path / "run")]) == 0
    _, page = _page(tmp_path / "run", k=5)
    headers = [cell["text"] for cell in page.tables["top-table"][0]]
    with Store(tmp_path / "run") as store:
        top = store.top(5)
    assert [row[headers.index("rung")]["text"] for row in page.rows("top-table")] == \
        [str(c.rung) for c in top]
    assert top[0].rung == 1  # the promoted ones rank first


# -- a run that has just started --------------------------------------------------------------


def test_a_run_with_nothing_finished(tmp_path, capsys):
    config = config_from_text(f"{SPACE}\nbackend: {{kind: inline}}")
    expr = parse("x * sigmoid(x)")
    with Store(tmp_path / "run", writer=True) as store:
        store.add_run(to_yaml(config), json.dumps(to_dict(config)), "git:test", ["actsearch"])
        store.add_candidate(expr.canonical, expr.text, [0, 0, 2, 2, 1], expr.fingerprint,
                            "f", 300, [0])
    assert main(["report", str(tmp_path / "run")]) == 0
    assert str(tmp_path / "run" / "report.html") in capsys.readouterr().out
    page = Page((tmp_path / "run" / "report.html").read_text())
    assert all(key in page.ids() for key in ("overview", "progress", "top", "rewards"))
    assert "No function has been scored yet." in page.text
    assert "No function has finished yet." in page.text
    assert "1 evaluation(s) in flight" in page.text
    assert_nothing_fetched(page)


def test_a_store_without_a_run_row(tmp_path):
    Store(tmp_path / "bare", writer=True).close()
    _, page = _page(tmp_path / "bare")
    assert "overview" in page.ids() and "No function has finished yet." in page.text


def test_bad_arguments_are_one_line(table_run, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:  # argument errors: one line, exit 2
        main(["report", str(table_run), "-k", "0", "-o", str(tmp_path / "r.html")])
    assert stop.value.code == 2
    assert "-k: must be from 1 to 100, got '0'" in capsys.readouterr().err
    assert main(["report", str(table_run), "-o", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "nothing")]) == 2
    assert "no search here" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()


def test_a_study_directory_is_refused_with_a_hint(seeded_run, capsys):
    assert main(["report", str(seeded_run / "rerank")]) == 2
    assert "holds a rerank or compare study" in capsys.readouterr().err


def test_importing_the_report_draws_nothing_and_starts_no_ray():
    done = subprocess.run([sys.executable, "-c",
                           "import sys, search.inspect.html_report, search.cli; "
                           "print('matplotlib' in sys.modules, 'ray' in sys.modules)"],
                          cwd=ROOT, text=True, capture_output=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False False"


# -- the parts ------------------------------------------------------------------------------


@pytest.mark.parametrize("values", [[0.3], [0.1, 0.5, 0.2, 0.9], [1, 1, 0, 0, 3, 2, 2],
                                    [0.7, -1.0, 0.25, 0.25, 0.1, 0.6, 0.05, 0.4]])
def test_expected_best_of_n_is_the_exact_order_statistic(values):
    expected = expected_best_of(values)
    assert len(expected) == len(values)
    for n in range(1, len(values) + 1):
        subsets = list(itertools.combinations(values, n))
        brute = sum(max(s) for s in subsets) / len(subsets)
        assert expected[n - 1] == pytest.approx(brute, abs=1e-12)
    assert expected_best_of(values, 2) == expected[:2]


def test_the_surrogate_section_is_skipped_without_pairs_and_drawn_with_them():
    assert surrogate_section([]) == ""
    assert surrogate_section([(math.nan, 0.5)]) == ""
    pairs = [(0.1, 0.2), (0.4, 0.3), (0.8, 0.9), (math.inf, 0.1)]
    page = Page(surrogate_section(pairs, "validation accuracy"))
    assert "surrogate" in page.ids() and any(tag == "svg" for tag, _ in page.tags)
    assert "3 functions; mean absolute error 0.1000" in page.text
    assert "Pearson r 0.9" in page.text  # r = 0.945 for these three
    assert_nothing_fetched(page)


def test_the_page_carries_the_surrogate_section_when_given_pairs(table_run):
    with Store(table_run) as store:
        page = Page(render_report(store, 3, surrogate=[(0.2, 0.25), (0.5, 0.4), (0.9, 0.8)]))
    assert "surrogate" in page.ids()
    assert ("a", {"href": "#surrogate"}) in page.tags  # and in the table of contents
    assert_nothing_fetched(page)


def test_readable_math():
    cases = {"x * sigmoid(beta * x)": "x·σ(βx)", "sigmoid(-x) * -x": "σ(−x)·(−x)",
             "square(sin(x)) - x": "sin²(x) − x", "cube(x + 1)": "(x + 1)³",
             "abs(x) / (x - 1)": "|x|/(x − 1)", "sqrt(x) + log_abs(x)": "√x + log|x|",
             "x - -x": "x − (−x)", "-(x + 1)": "−(x + 1)", "exp(x) * 2": "eˣ·2",
             "max(x, 0)": "max(x, 0)", "selu(x)": "1.0507·(x − min(x, 0) + "
                                                  "1.67326·(exp(min(x, 0)) − 1))"}
    for text, expected in cases.items():
        assert unicode_math(parse(text)) == expected


def test_failures_group_by_their_cause():
    assert reason_key("non-finite loss or parameters at step 2") == \
        reason_key("non-finite loss or parameters at step 40")
    assert reason_key("linear (f(x) = 2*x + 2.084e-19)") == "linear"
    assert reason_key("RuntimeError: boom\n  File x.py, line 3") == "RuntimeError: boom"
    assert reason_key("") == "no message"


def test_markdown_tables_are_escaped_and_keep_a_pipe_in_the_last_cell():
    page = Page(markdown_html("a <b>note</b>\n\n| rank | function | notes |\n|---:|---|---|\n"
                              "| 1 | `x * x` | failed (a | b) |"))
    assert not any(tag == "b" for tag, _ in page.tags)
    assert "a <b>note</b>" in page.text
    [row] = page.rows("table-0")
    assert [c["text"] for c in row] == ["1", "x * x", "failed (a | b)"]
    assert row[1]["code"] == ["x * x"]


def test_busy_time_counts_overlapping_children_once():
    from search.inspect.run_summary import union_length

    assert union_length([(0.0, 2.0), (1.0, 3.0), (5.0, 6.0), (5.5, 5.8)]) == 4.0
    assert union_length([]) == 0.0
