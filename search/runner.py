"""The search loop: ask -> decode -> de-duplicate -> pre-screen -> submit -> record -> tell.

``Runner.run()`` keeps ``workers`` children in flight and handles each result
as it finishes (completion order). For every proposal of the strategy:

1. decode the tokens (``space``) into an expression, its canonical key and
   fingerprint;
2. seen before (same canonical key, or same fingerprint when ``dedup`` is
   "fingerprint")? Finished: tell the strategy the recorded reward, train
   nothing. Still in flight: the proposal waits for that result.
3. pre-screen (``evaluator.prescreen``): an invalid function is recorded with
   the task's ``invalid_reward`` and told at once, never trained;
4. otherwise one evaluation per seed is written to the store as ``running``
   and submitted to the backend;
5. a finished child is committed to the store first; only then, once all its
   seeds are in, does the strategy hear of it.

Stop rules: ``budget.max_evaluations`` (child trainings over the whole run,
in-flight ones are finished), ``budget.max_proposals``, ``budget.max_seconds``
(of this invocation), the strategy exhausted, ``max_consecutive_errors`` child
errors in a row (``RunAborted``), Ctrl-C (``KeyboardInterrupt``) or SIGTERM
(``Terminated``, raised by the command line's signal handler). Children still
out when a search stops are cancelled and marked ``abandoned`` in the store; a
resume trains them again. The strategy's state is checkpointed into the store every
``checkpoint_every`` results and at exit, with the proposals it still awaits.

Successive halving (``config.halving``): every candidate starts on the lowest
rung; ``search.halving.promotions`` ranks each finished cohort and the best
1/eta are trained again at the next rung's budget (evaluations of that rung,
same seeds). Promotions are decided from the store alone, so a resume makes
the same ones. The strategy hears each candidate's lowest-rung reward;
``budget.max_evaluations`` counts lowest-rung trainings, and promotions of the
cohorts already started are finished even after the budget is spent.

Resume (``search.resume``): the strategy is restored from the newest
checkpoint; proposals it was awaiting are told from the store if their
candidate finished since, or wait for it; every evaluation ``abandoned`` (or
still ``running``: the driver was killed) in the store is submitted again.
Proposals asked after the checkpoint are asked again by the restored strategy
and answered from the store, so no finished candidate is trained twice, and
they are not counted as duplicates a second time.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections import deque
from collections.abc import Callable, Sequence

from evaluator import Result, fidelity_label, with_budget
from search.backends import Backend, BackendError, Finished, Job
from search.config import RunConfig
from search.errors import Terminated, UserError
from search.halving import promotions
from search.progress import CLOSING, Progress
from search.resume import resume_point, save_checkpoint
from search.rows import Candidate
from search.store import Store
from space import SearchSpace

Tokens = tuple[int, ...]
WAITING_PER_WORKER = 4  # proposals awaiting in-flight results, per worker, before asking stops


class RunAborted(UserError, RuntimeError):
    """The run stopped because its setup is broken (one line); results so far are kept."""


def fidelity_key(task: dict) -> str:
    """A short name for how children are trained: the task's fidelity label and a hash of
    the recipe (``resnet20w16-cifar10-1000steps-1a2b3c4d``).

    Execution-only fields (device, threads, data location, compile policy, time
    limit, logging) do not change the fidelity.
    """
    ignored = {"name", "data_dir", "device", "threads", "time_limit_s", "compile", "compile_cost_s",
               "compile_gain", "eval_batch_size", "log_every", "amp", "channels_last"}
    recipe = {k: v for k, v in sorted(task.items()) if k not in ignored}
    digest = hashlib.sha1(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:8]
    return f"{fidelity_label(task)}-{digest}"


class Runner:
    """Drives one strategy over one space with one backend, writing to one store."""

    def __init__(self, config: RunConfig, store: Store, backend: Backend, strategy,
                 space: SearchSpace, task: dict,
                 on_update: Callable[[Progress], None] | None = None) -> None:
        self.config, self.store, self.backend = config, store, backend
        self.strategy, self.space, self.task = strategy, space, task
        self.on_update = on_update or (lambda progress: None)
        self.halving = config.halving
        self.rung_tasks = [task] if self.halving is None else [
            with_budget(task, budget) for budget in self.halving.rungs]
        self.fidelities = [fidelity_key(t) for t in self.rung_tasks]
        self.fidelity = self.fidelities[0]
        self.seeds = config.seeds
        budget = config.budget
        self.max_proposals = budget.max_proposals or (
            20 * budget.max_evaluations if budget.max_evaluations else None)
        self.deadline = time.monotonic() + budget.max_seconds if budget.max_seconds else math.inf
        self.waiters: dict[int, list[Tokens]] = {}  # candidate id -> proposals awaiting it
        self.ready: deque[Job] = deque()  # jobs to submit as soon as a worker is free
        self.proposals = 0  # asks answered by the strategy, duplicates included
        self.replays = 0  # proposals a resumed strategy asks again (search.resume)
        self.told = 0
        self.since_checkpoint = 0
        self.errors_in_row = 0
        self.changed = False  # something was recorded since the bar was last drawn
        self.progress = Progress(budget=budget.max_evaluations, seeds=len(self.seeds))
        self._restore()

    # -- resume ------------------------------------------------------------------------

    def _restore(self) -> None:
        """Pick up what the store holds (``search.resume``): the strategy's state, awaited
        proposals, children to train again, proposals that will be asked again."""
        self.progress.read(self.store)
        top = self.store.top(1)
        self.progress.best = top[0] if top and top[0].status == "ok" else None
        point = resume_point(self.store)
        if point.state is not None:
            self.strategy.load_state_dict(point.state)
        self.proposals, self.replays = point.proposals, point.replays
        self.waiters.update(point.waiting)
        for evaluation, candidate in point.rerun:
            self.store.restart(evaluation.id)
            self.ready.append(self._job(evaluation.id, candidate.id, candidate.text,
                                        evaluation.seed, evaluation.rung))
        if point.answered:
            self._tell([(tokens, self._reward(c)) for tokens, c in point.answered])

    # -- the loop ----------------------------------------------------------------------

    def run(self) -> Progress:
        """Search until a stop rule fires; returns the final progress record."""
        try:
            while True:
                self._fill()
                self._draw()
                if self.backend.in_flight == 0:
                    break
                if time.monotonic() >= self.deadline:
                    self.progress.stopped_by = "time"
                    self._collect_done()
                    break
                finished = self.backend.next_finished(timeout=self._time_left())
                if finished is not None:
                    self._record(finished)
        except BackendError as error:  # e.g. a lost node took the last place a child fits
            self.progress.stopped_by = "errors"
            raise RunAborted(f"{error} (`actsearch run --resume {self.store.run_dir}`; "
                             "results so far are kept)") from None
        except KeyboardInterrupt as stop:
            self.progress.stopped_by = ("terminated" if isinstance(stop, Terminated)
                                        else "interrupted")
        finally:
            self.backend.shutdown()
            self.store.abandon_running()  # children cancelled or never started: rerun later
            self._checkpoint()
            self.progress.read(self.store)
            self.progress.training = 0
            self.on_update(self.progress)
        return self.progress

    def _draw(self) -> None:
        """Show what changed, once the freed workers got their next child: drawn right
        after a result, the bar would count one training fewer than are out."""
        if not self.changed:
            return
        self.changed = False
        self.progress.read(self.store)
        self.progress.training = self.backend.in_flight
        self.on_update(self.progress)

    def _collect_done(self) -> None:
        """Record children that already finished; only those still running are cancelled."""
        while self.backend.in_flight:
            finished = self.backend.next_finished(timeout=0.0)
            if finished is None:
                return
            self._record(finished)

    def _time_left(self) -> float | None:
        return None if self.deadline == math.inf else max(0.0, self.deadline - time.monotonic())

    def _job(self, evaluation_id: int, candidate_id: int, expr_text: str, seed: int,
             rung: int = 0) -> Job:
        task = None if self.halving is None else self.rung_tasks[rung]
        return Job(evaluation_id, candidate_id, expr_text, seed, task)

    def _promote(self) -> None:
        """Queue the next rung for every cohort that finished one (successive halving)."""
        if self.halving is None:
            return
        closing = self.progress.stopped_by in CLOSING
        for candidate_id, rung in promotions(self.store, self.halving, closing):
            candidate = self.store.candidate(candidate_id)
            assert candidate is not None
            jobs = self.store.add_evaluations(candidate_id, self.fidelities[rung],
                                              self.halving.rungs[rung], self.seeds, rung)
            self.ready.extend(self._job(eid, candidate_id, candidate.text, seed, rung)
                              for eid, seed in jobs)

    def _fill(self) -> None:
        """Submit ready jobs and ask for more until every worker is busy or a rule stops it."""
        workers = self.config.backend.workers
        self._promote()
        while True:
            while self.ready and self.backend.in_flight < workers:
                self.backend.submit(self.ready.popleft())
            if self.backend.in_flight >= workers:
                return
            if self.progress.stopped_by:
                if self.halving is not None and not self.ready and not self.backend.in_flight:
                    self._promote()  # the search stopped: rank the last, partial cohort
                    if self.ready:
                        continue
                return
            if sum(map(len, self.waiters.values())) >= WAITING_PER_WORKER * workers:
                return  # the strategy keeps proposing what is in flight: wait for results
            n = self._asks_allowed(workers - self.backend.in_flight)
            if n <= 0:
                return
            proposals = self.strategy.ask(n)
            self._record_predictions()
            if not proposals:
                self.progress.stopped_by = "exhausted"
                return
            for tokens in proposals:
                self._propose(tuple(int(t) for t in tokens))

    def _record_predictions(self) -> None:
        """Store what the surrogate expected of the proposals just made, and of those its
        filter passed over, before any of them is trained (``Store.add_predictions``)."""
        take = getattr(self.strategy, "take_predictions", None)
        if take is None:
            return
        rows = []
        for prediction in take():
            if not math.isfinite(prediction.mean):
                continue  # proposed before the surrogate was trusted: nothing predicted
            expr = self.space.decode(prediction.tokens)
            key = expr.fingerprint if self.config.dedup == "fingerprint" else expr.canonical
            rows.append((key, expr.text, prediction.mean, prediction.std, prediction.trained))
        self.store.add_predictions(rows)

    def _asks_allowed(self, free_workers: int) -> int:
        """How many proposals to ask for now (0 sets ``stopped_by``)."""
        per_candidate = len(self.seeds)
        n = max(1, math.ceil(free_workers / per_candidate))
        budget = self.config.budget.max_evaluations
        if budget is not None:
            if self.halving is None:
                used = self.progress.trained + self.backend.in_flight + len(self.ready)
            else:  # lowest-rung trainings, finished or out
                used = self.store.count_trained(rung=0, running=True)
            left = (budget - used) // per_candidate
            if left <= 0:
                self.progress.stopped_by = "budget"
                return 0
            n = min(n, left)
        if self.max_proposals is not None:
            left = self.max_proposals - self.proposals
            if left <= 0:
                self.progress.stopped_by = "proposals"
                return 0
            n = min(n, left)
        if time.monotonic() >= self.deadline:
            self.progress.stopped_by = "time"
            return 0
        return n

    def _propose(self, tokens: Tokens) -> None:
        """Answer one proposal from the store, the pre-screen, or by submitting it."""
        self.proposals += 1
        expr = self.space.decode(tokens)
        fingerprint = expr.fingerprint if self.config.dedup == "fingerprint" else None
        seen = self.store.find(expr.canonical, fingerprint)
        if seen is not None:
            if self.replays > 0:  # asked before the driver was killed: counted then
                self.replays -= 1
            else:
                self.store.count_proposal(seen.id)
            if seen.status == "pending":
                self.waiters.setdefault(seen.id, []).append(tokens)
            else:
                self._tell([(tokens, self._reward(seen))])
            return
        from evaluator import prescreen  # torch: imported by the search, not by its readers

        reason = prescreen(expr, float(self.task.get("beta_init", 1.0)))
        if reason is not None:
            result = Result(status="invalid", reward=float(self.task["invalid_reward"]),
                            error=reason, expr=expr.text, seed=self.seeds[0]).to_dict()
            candidate = self.store.add_scored(expr.canonical, expr.text, tokens, expr.fingerprint,
                                              self.fidelity, self.task.get("steps"),
                                              self.seeds[0], result, note=reason)
            self._finished_candidate(candidate)
            self._tell([(tokens, self._reward(candidate))])
            return
        candidate_id, jobs = self.store.add_candidate(
            expr.canonical, expr.text, tokens, expr.fingerprint, self.fidelity,
            self.rung_tasks[0].get("steps"), self.seeds)
        self.waiters[candidate_id] = [tokens]
        self.ready.extend(self._job(eid, candidate_id, expr.text, seed) for eid, seed in jobs)

    def _record(self, finished: Finished) -> None:
        """Commit a child's result, then (all seeds in) tell the strategy."""
        if finished.setup_error is not None:  # not the candidate's fault: stop, rerun on resume
            self.progress.stopped_by = "errors"
            raise RunAborted(f"a child could not run on {finished.worker}: "
                             f"{finished.setup_error}; fix it, then `actsearch run --resume "
                             f"{self.store.run_dir}` (results so far are kept)")
        candidate = self.store.record_result(finished.job.evaluation_id, finished.result,
                                             finished.worker, retries=finished.retries)
        status = finished.result["status"]
        self.errors_in_row = self.errors_in_row + 1 if status == "error" else 0
        if candidate is None:
            self.progress.read(self.store)  # the budget counts it before the next ask
            self.changed = True
        else:
            self._finished_candidate(candidate)  # promotions follow in the next _fill
            awaiting = self.waiters.pop(candidate.id, [])
            if awaiting:
                self._tell([(tokens, self._reward(candidate)) for tokens in awaiting])
        self.since_checkpoint += 1
        if self.since_checkpoint >= self.config.budget.checkpoint_every:
            self._checkpoint()
        limit = self.config.budget.max_consecutive_errors
        if self.errors_in_row >= limit:
            self.progress.stopped_by = "errors"
            raise RunAborted(f"{limit} child trainings in a row ended in an error, the last: "
                             f"{finished.result.get('error', '')[:300]}; see `actsearch top "
                             f"{self.store.run_dir}` (results so far are kept)")

    def _finished_candidate(self, candidate: Candidate) -> None:
        """A candidate finished a rung (the lowest: it is new); the bar shows it next."""
        self.progress.read(self.store)  # the budget counts it before the next ask
        top = self.store.top(1)
        if top and top[0].status == "ok":
            self.progress.best = top[0]
        self.changed = True

    def _reward(self, candidate: Candidate) -> float:
        """The reward the strategy hears: the recorded one (with successive halving, the
        lowest rung's, so every candidate is judged at one fidelity), non-finite as diverged."""
        reward = candidate.reward
        if self.halving is not None and candidate.rung > 0:
            reward = self.store.rung_results(0, candidate.id)[candidate.id][1]
        if reward is None or not math.isfinite(reward):
            return float(self.task["diverged_reward"])
        return reward

    def _tell(self, results: Sequence[tuple[Tokens, float]]) -> None:
        self.strategy.tell(list(results))
        self.told += len(results)

    def _checkpoint(self) -> None:
        """Save the strategy with the proposals it awaits (``search.resume``)."""
        save_checkpoint(self.store, self.strategy, self.told, self.waiters, self.proposals)
        self.since_checkpoint = 0
