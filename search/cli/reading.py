"""The commands that read a run: ``top``, ``show``, ``plot``, ``report``, ``export`` and
``export-table``. Each opens the store read-only and imports neither torch nor Ray; each
``-o`` goes through ``search.outputs`` (never over a store; a temporary file moved into
place, or a stream into a FIFO or device)."""

from __future__ import annotations

import argparse
from pathlib import Path

from search.errors import UsageError
from search.outputs import announce, output


def cmd_top(args: argparse.Namespace) -> int:
    from search.inspect.top import top_json, top_table
    from search.store import Store
    from search.studies.compare import has_rerank, rerank_dir, rerank_table

    with Store(args.run_dir) as store:
        print(top_json(store, args.k) if args.json else top_table(store, args.k))
    if has_rerank(Path(args.run_dir)) and not args.json:
        with Store(rerank_dir(Path(args.run_dir))) as store:
            print("\n" + rerank_table(store))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from search.inspect.formats import ReportError
    from search.inspect.show import find_candidate, predicted_text, show_text
    from search.store import Store

    with Store(args.run_dir) as store:
        try:
            print(show_text(store, find_candidate(store, args.ref)))
        except ReportError:
            predicted = None if args.ref.strip().isdigit() else predicted_text(store, args.ref)
            if predicted is None:
                raise
            print(predicted)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from search.inspect.export import export_file
    from search.inspect.show import by_rank, find_candidate
    from search.store import Store

    if (args.ref is None) == (args.rank is None):
        raise UsageError("give a candidate ID (or expression) or --rank N, not both")
    with Store(args.run_dir) as store:
        candidate = by_rank(store, args.rank) if args.rank else find_candidate(store, args.ref)
        saved = store.config() or {}
        beta_init = saved.get("task", {}).get("beta_init", 1.0)
        with output(args.output) as target:
            note = export_file(store, candidate, target, beta_init=beta_init)
    announce(args.output, f"wrote {args.output}: {candidate.text} (reward "
                          f"{candidate.reward:.4f}); {note}")
    return 0


def cmd_export_table(args: argparse.Namespace) -> int:
    from search.inspect.table_export import write_table
    from search.store import Store

    with Store(args.run_dir) as store, output(args.output) as target:
        written, left_out = write_table(store, target)
    skipped = ", ".join(f"{n} {status}" for status, n in sorted(left_out.items()))
    announce(args.output, f"wrote {args.output}: {written} functions (ok and diverged)"
             + (f"; left out {skipped}" if skipped else "")
             + f"; replay it with task: {{name: table, path: {args.output}, cost: seconds}}")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from matplotlib.backend_bases import FigureCanvasBase

    from search.inspect.plot import plot_run
    from search.store import Store

    # The format is the file name's suffix, PNG without one; the file is written where -o
    # says, suffix or not (`-o /tmp/x` writes /tmp/x, a PNG; matplotlib would add .png).
    kind = Path(args.output).suffix[1:].lower() or "png"
    kinds = FigureCanvasBase.get_supported_filetypes()
    if kind not in kinds:
        raise UsageError(f"-o {args.output}: matplotlib cannot write .{kind} files; give a "
                         f"file name ending in one of .{', .'.join(sorted(kinds))}")
    with Store(args.run_dir) as store, output(args.output) as target:
        plot_run(store, args.k, target, kind)
    announce(args.output, f"wrote {args.output}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from search.inspect.html_report import write_report

    path = write_report(args.run_dir, args.output, k=args.k)
    announce(path, f"wrote {path} (one self-contained page: open it in a browser, mail it, "
                   "print it)")
    return 0
