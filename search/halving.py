"""Successive halving: which candidates go on to the next rung, decided from the store.

A pure function of what the store holds, so a resumed search promotes exactly
what the interrupted one would have, and asking twice promotes nothing twice.
Cohorts are consecutive groups of ``cohort_size`` trained candidates in the
order they entered the lowest rung (pre-screened ones are never trained). A
cohort is ranked at rung r once every member it has there finished; the best
``floor(m / eta)`` of its m members (status ``ok`` only, higher reward first,
earlier candidate on ties) are promoted to r + 1.
The last cohort is ranked only when ``closing`` (the search stopped asking),
so it is not judged before it is full.
"""

from __future__ import annotations

from collections import Counter

from search.config import HalvingConfig
from search.store import Store


def promotions(store: Store, halving: HalvingConfig, closing: bool) -> list[tuple[int, int]]:
    """(candidate id, rung) pairs to train next; none already at that rung."""
    size = halving.cohort_size
    cohort_of = {cid: i // size for i, cid in enumerate(store.rung_members(0))}
    full = {c for c, n in Counter(cohort_of.values()).items() if n == size}
    chosen = []
    for rung in range(len(halving.rungs) - 1):
        results = store.rung_results(rung)
        above = set(store.rung_members(rung + 1))
        cohorts: dict[int, list[int]] = {}
        for cid in store.rung_members(rung):
            cohorts.setdefault(cohort_of[cid], []).append(cid)
        for cohort, members in cohorts.items():
            if not (cohort in full or closing) or any(m not in results for m in members):
                continue
            keep = len(members) // halving.eta
            ranked = sorted((m for m in members if results[m][0] == "ok"),
                            key=lambda m: (-results[m][1], m))
            chosen += [(m, rung + 1) for m in ranked[:keep] if m not in above]
    return chosen
