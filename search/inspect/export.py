"""``actsearch export``: one function of a run as a standalone PyTorch module file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from search.inspect.formats import BETA_KEYS
from search.rows import Candidate
from search.store import Store
from space import parse

LEARNED_SOURCE = '''

# Learned beta values reported by the evaluator for this run's child: one list per
# activation site (in the order the child's network applied them), one value per channel.
LEARNED_BETA = {values}


def load_learned(site: int = 0) -> Activation:
    """An Activation whose beta holds the values learned at activation ``site``
    (0-based), one per channel: ``load_learned(0)(x)`` for x of shape [N, C, ...]."""
    values = LEARNED_BETA[site]
    values = [float(v) for v in (values if isinstance(values, list) else [values])]
    module = Activation(num_parameters=len(values))
    with torch.no_grad():
        module.beta.copy_(torch.tensor(values))
    return module
'''


def learned_beta(store: Store, candidate: Candidate) -> Any:
    """Learned beta values the evaluator reported for this candidate, or None."""
    for evaluation in store.evaluations(candidate.id):
        for key in BETA_KEYS:
            if key in evaluation.info:
                return evaluation.info[key]
    return None


def export_file(store: Store, candidate: Candidate, path: str | Path,
                beta_init: float = 1.0) -> str:
    """Write the standalone module file; returns a one-line note about beta values."""
    from space import export_source  # torch: only this command needs it

    expr = parse(candidate.text)
    source = export_source(expr, init=beta_init)
    beta = learned_beta(store, candidate) if expr.uses_beta else None
    if beta is not None:
        source += LEARNED_SOURCE.format(values=json.dumps(beta))
        note = ("learned beta values appended as LEARNED_BETA; load_learned(site) builds the "
                "module with them")
    elif expr.uses_beta:
        note = (f"the run kept no learned beta values (the evaluator does not report them); "
                f"beta starts at {beta_init:g}")
    else:
        note = "the function has no beta"
    Path(path).write_text(source)
    return note
