"""The surrogate filter: any strategy over-proposes, the surrogate picks what is trained.

``SurrogateFilter(inner, space, surrogate)`` is a strategy around another one
(``surrogate.filter: k`` in a config). ``ask(n)`` asks the inner strategy for
``k * n`` proposals and sorts them by function (fingerprint):

* a function already told: the inner strategy hears its reward at once, as the
  runner would tell a duplicate (no round trip, no training);
* a function in flight: the proposal waits and hears that function's reward;
* a new function: a candidate. Once the surrogate holds ``initial`` rewards
  the candidates are ranked by the acquisition and the best ``n`` go to the
  runner (before that, the inner strategy's first ``n``, in its order).

Candidates passed over are **not** trained. They are reported by
``take_predictions`` (``trained=False``) so the runner records them with their
prediction, never silently dropping them, and the inner strategy is told their
*predicted* mean reward (``controller/rl.py`` says what that means for the RNN
controller's gradient). Their function is not remembered as told: proposed
again later, it is a candidate again and may then be trained.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from controller.base import Ledger, Results, Tokens, check_n
from controller.config import SurrogateConfig
from controller.features import shape_features
from controller.model_based import Prediction
from controller.surrogate import RewardModel, acquisition

MAX_ROUNDS = 20  # asks of the inner strategy per ask before repeats go to the runner as they are


class SurrogateFilter:
    """A strategy that trains only the best 1/k of another strategy's proposals."""

    def __init__(self, inner, space, surrogate: SurrogateConfig, seed: int = 0) -> None:
        self.inner, self.space, self.seed = inner, space, seed
        self.surrogate = surrogate.for_filter()
        self.kind = f"{inner.kind}+filter"
        self.ledger = Ledger()  # proposals handed to the runner
        self.told: list[tuple[Tokens, float]] = []  # first proposal of each function told
        self.rewards: dict[str, float] = {}  # function key -> reward told
        self.waiting: dict[str, list[Tokens]] = {}  # key in flight -> inner proposals waiting
        self.fitted_on = 0
        self.samples = 0  # the inner strategy's proposals looked at
        self._keys: dict[Tokens, str] = {}
        self._features: dict[str, np.ndarray] = {}
        self._model: RewardModel | None = None
        self._predictions: list[Prediction] = []

    # -- features and the model --------------------------------------------------------

    def _key(self, tokens: Tokens) -> str:
        if tokens not in self._keys:
            self._keys[tokens] = self.space.decode(tokens).fingerprint
        return self._keys[tokens]

    def _feature(self, tokens: Tokens) -> np.ndarray:
        key = self._key(tokens)
        if key not in self._features:
            self._features[key] = shape_features(self.space.decode(tokens))
        return self._features[key]

    def _fitted(self) -> RewardModel | None:
        told = len(self.told)
        if told < self.surrogate.initial:
            return None
        step = max(1, math.floor(self.surrogate.refit_growth * self.fitted_on))
        if self._model is None or told >= self.fitted_on + step:
            self._fit(told)
        return self._model

    def _fit(self, count: int) -> None:
        features = np.stack([self._feature(tokens) for tokens, _ in self.told[:count]])
        rewards = np.array([reward for _, reward in self.told[:count]])
        self._model = RewardModel(self.surrogate.model, self.seed).fit(features, rewards)
        self.fitted_on = count

    # -- ask and tell --------------------------------------------------------------

    def ask(self, n: int) -> list[Tokens]:
        """Up to ``n`` new functions; repeats are answered here (see the module docstring)."""
        chosen: list[Tokens] = []
        for round_ in range(MAX_ROUNDS):
            want = check_n(n) - len(chosen)
            if want <= 0:
                break
            model = self._fitted()
            asked = self.inner.ask(want * (self.surrogate.filter if model else 1))
            self.samples += len(asked)
            if not asked:
                break  # the inner strategy is exhausted
            if round_ == MAX_ROUNDS - 1:  # it only repeats itself: let the runner answer
                for tokens in asked:
                    self.ledger.add(tokens)
                return chosen + asked
            chosen += self._sort(asked, want, model)
        return chosen

    def _sort(self, asked: list[Tokens], want: int, model: RewardModel | None) -> list[Tokens]:
        """Answer repeats, park proposals in flight, choose among the new functions."""
        candidates: dict[str, Tokens] = {}  # new function -> its first proposal
        repeats: list[Tokens] = []  # further proposals of a candidate's function
        answered = []
        for tokens in asked:
            key = self._key(tokens)
            if key in self.rewards:
                answered.append((tokens, self.rewards[key]))
            elif key in self.waiting:
                self.waiting[key].append(tokens)
            elif key in candidates:
                repeats.append(tokens)
            else:
                candidates[key] = tokens
        ranked = self._rank(list(candidates.values()), model)
        chosen, passed = ranked[:want], ranked[want:]
        for tokens, _, _ in chosen:
            self.waiting[self._key(tokens)] = []
            self.ledger.add(tokens)
        predicted = {self._key(tokens): mean for tokens, mean, _ in passed}
        for tokens in repeats:  # waits for its chosen twin, or hears the prediction
            key = self._key(tokens)
            if key in self.waiting:
                self.waiting[key].append(tokens)
            else:
                answered.append((tokens, predicted[key]))
        answered += [(tokens, mean) for tokens, mean, _ in passed]
        if answered:
            self.inner.tell(answered)
        self._predictions += [Prediction(t, m, s) for t, m, s in chosen]
        self._predictions += [Prediction(t, m, s, trained=False) for t, m, s in passed]
        return [tokens for tokens, _, _ in chosen]

    def _rank(self, candidates: list[Tokens], model: RewardModel | None):
        """Candidates as (tokens, predicted mean, std), best acquisition first (no model:
        the inner strategy's order, predictions NaN)."""
        if model is None or not candidates:
            return [(tokens, math.nan, math.nan) for tokens in candidates]
        mean, std = model.predict(np.stack([self._feature(t) for t in candidates]))
        best = max(self.rewards.values())
        scores = acquisition(mean, std, best, self.surrogate.acquisition, self.surrogate.kappa)
        order = np.argsort(-scores, kind="stable")
        return [(candidates[i], float(mean[i]), float(std[i])) for i in order]

    def tell(self, results: Results) -> None:
        answered = []
        for tokens, reward, _ in self.ledger.settle(results):
            key = self._key(tokens)
            if key not in self.rewards:
                self.rewards[key] = reward
                self.told.append((tokens, reward))
            answered.append((tokens, reward))
            answered += [(t, reward) for t in self.waiting.pop(key, [])]
        self.inner.tell(answered)

    def take_predictions(self) -> list[Prediction]:
        taken, self._predictions = self._predictions, []
        return taken

    @property
    def exhausted(self) -> bool:
        return self.inner.exhausted

    # -- save and restore ----------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "inner": self.inner.state_dict(),
                "ledger": self.ledger.state_dict(), "told": list(self.told),
                "waiting": {k: list(v) for k, v in self.waiting.items()},
                "fitted_on": self.fitted_on, "samples": self.samples}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("kind") != self.kind:
            raise ValueError(f"state was saved by strategy {state.get('kind')!r}, "
                             f"cannot load it into {self.kind!r}")
        self.inner.load_state_dict(state["inner"])
        self.ledger.load_state_dict(state["ledger"])
        self.told = [(tuple(t), float(r)) for t, r in state["told"]]
        self.rewards = {self._key(t): r for t, r in self.told}
        self.waiting = {k: [tuple(t) for t in v] for k, v in state["waiting"].items()}
        self._model = None
        self.fitted_on = state["fitted_on"]
        self.samples = state["samples"]
        if self.fitted_on:
            self._fit(self.fitted_on)
