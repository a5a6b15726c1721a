"""The RNN controller as a strategy, trained by REINFORCE or PPO.

``ask(n)`` samples ``n`` sequences from the current policy and files each
with its log-probability at that moment (PPO's "old" log-prob). ``tell``
moves answered proposals, in the order told, into a buffer; every time the
buffer holds ``batch_size`` results the policy takes one update on them:

    baseline  = EMA of earlier batch means (this batch's mean for the first)
    advantage = reward - baseline
    loss      = policy loss(advantage) - entropy_weight * entropy

REINFORCE's policy loss is ``-(advantage * log p(tokens)).mean()``, one
gradient step per batch. PPO's is the clipped surrogate
``-min(r * A, clip(r, 1 - eps, 1 + eps) * A).mean()`` with
``r = p_now(tokens) / p_asked(tokens)``, for ``ppo_epochs`` steps per batch;
the ratio also corrects for proposals asked before an earlier update
(asynchronous workers). Entropy is the per-step entropy summed over a
sequence, averaged over the batch. After the update the baseline moves:
``baseline = ema_decay * baseline + (1 - ema_decay) * batch mean``.

Priority-queue training (Abolafia et al. 2018, "Neural program synthesis with
priority queue training"): the ``elite_size`` best distinct sequences told so
far are kept, and every optimisation step also maximises their likelihood,
``loss += elite_weight * -mean(log p(elite))``. A policy-gradient step moves
the policy only a little towards a rare good function it saw once; the elite
term keeps pulling it there on every later update, so the controller proposes
variations of the best functions found (the tanh squash keeps each step from
becoming certain, so those are mostly one- and two-token variations; with
``tanh_constant: null`` the policy can become certain of the elite and stop
exploring) while the REINFORCE/PPO term learns which tokens pay in general.
``elite_size: 0`` turns it off.

Repeats: a sampled sequence that was told before is an ordinary sample of the
policy: it enters the batch and the gradient with the reward recorded for it,
so a function the policy keeps proposing keeps being reinforced by its one
recorded reward. That is what an on-policy estimator needs (dropping repeats
would bias it towards rare sequences). The controller answers such repeats
itself, at once, and samples again in their place: a round trip through the
runner for a repeat costs a store write and a proposal of the budget but
teaches nothing the controller does not already know. "Told before" is by
function: another spelling of a told function (same fingerprint, the runner's
default ``dedup``) is answered here too. Sequences still in flight are proposed
as they are (the runner makes them wait for the result).

The resampling is bounded: ``RESAMPLE_ROUNDS`` draws per ask. A policy that has
concentrated on functions it knows (the elite term pulls it there, and every
repeat it answers itself reinforces it) can need thousands of draws, and
hundreds of updates, to hit an untried function: ask after ask sent repeats
to the runner, and a resumed test search on a busy machine went 67 s and 87 s
between new functions. When the rounds are spent, each proposal still
missing is a **fallback**: up to ``FALLBACK_DRAWS`` sequences drawn uniformly
from the valid ones (with the controller's own generator, so a seed still
fixes everything), the first whose function is neither told nor out. It is
proposed with its log-probability under the current policy and learned from
like any sample: an off-policy exploration step, taken only when the policy
has stopped finding anything new. Only when no fallback is found either (the
space is nearly all told) does a repeat go to the runner, which answers it from
its store and counts it toward ``budget.max_proposals``.
``samples`` counts every sequence drawn from the policy, answered here or not;
``fallbacks`` the proposals drawn uniformly instead.

The surrogate filter (``controller/filtered.py``) asks this controller for k
times the proposals it trains, and tells the ones it passes over their
*predicted* reward: they enter the batch and the gradient like trained ones,
with the surrogate's estimate in place of a measurement. The policy gradient
thus stays on-policy (every sample has a reward) and the controller learns
from k samples per training, at the price of the surrogate's bias; the
trained rewards, which arrive later, keep correcting it.
"""

from __future__ import annotations

import copy
from typing import Any

import torch

from controller.base import Ledger, Results, Tokens, check_kind, check_n
from controller.config import StrategyConfig
from controller.policy import Policy, Rollout, probability, sample, score
from space import SearchSpace

RESAMPLE_ROUNDS = 20  # policy draws per ask to replace repeats before falling back
FALLBACK_DRAWS = 64  # uniform draws per missing proposal to find an untried function


class RNNController:
    """An LSTM policy over token sequences, updated by REINFORCE or PPO."""

    def __init__(self, config: StrategyConfig, space: SearchSpace) -> None:
        if config.name not in ("reinforce", "ppo"):
            raise ValueError(f"RNNController runs 'reinforce' or 'ppo', not {config.name!r}")
        self.kind = config.name
        self.config = config
        self.space = space
        with torch.random.fork_rng(devices=[]):  # seeded init, global RNG left as it was
            torch.manual_seed(config.seed)
            self.policy = Policy(space, config.hidden_size, config.temperature,
                                 config.tanh_constant)
        self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=config.lr)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.ledger = Ledger()  # proposals out, each with its log-prob at ask time
        self.buffer: list[tuple[Tokens, float, float]] = []  # told, not yet learned from
        self.baseline: float | None = None
        self.elite: list[tuple[float, Tokens]] = []  # best distinct (reward, tokens), best first
        self.updates = 0
        self.samples = 0  # sequences drawn, repeats answered here included
        self.fallbacks = 0  # proposals drawn uniformly because the policy only repeated
        self.known: dict[str, float] = {}  # function (fingerprint) -> reward told
        self._keys: dict[Tokens, str] = {}  # sequence -> its function's fingerprint (a cache)
        self.last_stats: dict[str, float] = {}

    # -- ask and tell ----------------------------------------------------------------

    def ask(self, n: int) -> list[Tokens]:
        proposals: list[Tokens] = []
        repeats: list[tuple[Tokens, float, float]] = []
        for _ in range(RESAMPLE_ROUNDS):
            need = check_n(n) - len(proposals)
            if need <= 0:
                break
            if repeats:
                self.learn(repeats)  # answered here, as the runner would answer them
            rollout = sample(self.policy, need, self.generator)
            self.samples += need
            repeats = []
            for tokens, log_p in zip(rollout.as_tuples(), rollout.sequence_log_prob.tolist()):
                key = self.function_of(tokens)
                if key in self.known:
                    repeats.append((tokens, self.known[key], log_p))
                else:
                    self.ledger.add(tokens, log_p)
                    proposals.append(tokens)
        if not repeats:
            return proposals
        if len(proposals) == n:  # the last round filled the ask: its repeats are answered
            self.learn(repeats)
            return proposals
        answered = []
        for tokens, reward, log_p in repeats:  # still missing: a fallback, else the repeat
            fallback = self.untried(proposals)
            if fallback is None:
                self.ledger.add(tokens, log_p)
                proposals.append(tokens)
                continue
            answered.append((tokens, reward, log_p))
            with torch.no_grad():
                log_p = float(score(self.policy, torch.tensor([fallback])).sequence_log_prob)
            self.ledger.add(fallback, log_p)
            proposals.append(fallback)
            self.fallbacks += 1
        if answered:
            self.learn(answered)
        return proposals

    def untried(self, proposals: list[Tokens]) -> Tokens | None:
        """A sequence drawn uniformly whose function is neither told nor out (nor among
        ``proposals``), or None after ``FALLBACK_DRAWS`` draws found none."""
        taken = {self.function_of(t) for t, _ in self.ledger.state_dict()}
        taken.update(self.function_of(t) for t in proposals)
        for _ in range(FALLBACK_DRAWS):
            tokens = tuple(
                int(slot.allowed[int(torch.randint(len(slot.allowed), (1,),
                                                   generator=self.generator))])
                for slot in self.space.slots)
            key = self.function_of(tokens)
            if key not in self.known and key not in taken:
                return tokens
        return None

    def tell(self, results: Results) -> None:
        settled = self.ledger.settle(results)  # (tokens, reward, log-prob when asked)
        for tokens, reward, _ in settled:
            self.known.setdefault(self.function_of(tokens), reward)
        self.learn(settled)

    def function_of(self, tokens: Tokens) -> str:
        """The fingerprint of the function a sequence spells (cached per sequence)."""
        key = self._keys.get(tokens)
        if key is None:
            key = self._keys[tokens] = self.space.decode(tokens).fingerprint
        return key

    def learn(self, settled: list[tuple[Tokens, float, float]]) -> None:
        """Buffer (tokens, reward, log-prob when asked); update on every full batch."""
        self.remember_best(settled)
        self.buffer.extend(settled)
        while len(self.buffer) >= self.config.batch_size:
            batch = self.buffer[: self.config.batch_size]
            self.buffer = self.buffer[self.config.batch_size:]
            self.update(batch)

    @property
    def exhausted(self) -> bool:
        return False

    def probability(self, tokens: Tokens) -> float:
        """How likely the policy is to propose ``tokens`` now."""
        return probability(self.policy, tokens)

    # -- learning --------------------------------------------------------------------

    def remember_best(self, settled: list[tuple[Tokens, float, float]]) -> None:
        """Keep the ``elite_size`` best distinct sequences told (earlier wins a tie)."""
        known = {tokens for _, tokens in self.elite}
        for tokens, reward, _ in settled:
            if tokens not in known:
                known.add(tokens)
                self.elite.append((reward, tokens))
        self.elite.sort(key=lambda entry: -entry[0])  # stable: ties keep the earlier one
        del self.elite[self.config.elite_size:]

    def update(self, batch: list[tuple[Tokens, float, float]]) -> None:
        """One policy update on (tokens, reward, log-prob when asked) triples."""
        tokens = torch.tensor([b[0] for b in batch], dtype=torch.long)
        rewards = torch.tensor([b[1] for b in batch], dtype=torch.float32)
        old_log_prob = torch.tensor([b[2] for b in batch], dtype=torch.float32)

        baseline = self.baseline if self.baseline is not None else float(rewards.mean())
        advantage = rewards - baseline
        elite = torch.tensor([e for _, e in self.elite], dtype=torch.long) if self.elite else None
        for _ in range(self.config.ppo_epochs if self.kind == "ppo" else 1):
            rollout = score(self.policy, tokens)
            loss = (self.policy_loss(rollout, advantage, old_log_prob)
                    - self.config.entropy_weight * rollout.entropy.sum(dim=1).mean())
            if elite is not None and self.config.elite_weight:
                elite_log_prob = score(self.policy, elite).sequence_log_prob
                loss = loss - self.config.elite_weight * elite_log_prob.mean()
            self.optimizer.zero_grad()
            loss.backward()
            if self.config.max_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(self.policy.parameters(), self.config.max_grad_norm)
            self.optimizer.step()

        decay = self.config.ema_decay
        self.baseline = decay * baseline + (1.0 - decay) * float(rewards.mean())
        self.updates += 1
        self.last_stats = {"loss": float(loss.detach()), "baseline": baseline,
                           "entropy": float(rollout.entropy.detach().sum(dim=1).mean())}

    def policy_loss(self, rollout: Rollout, advantage: torch.Tensor,
                    old_log_prob: torch.Tensor) -> torch.Tensor:
        """REINFORCE's or PPO's clipped policy-gradient loss (to minimise)."""
        log_prob = rollout.sequence_log_prob
        if self.kind == "reinforce":
            return -(advantage * log_prob).mean()
        ratio = torch.exp(log_prob - old_log_prob)
        clipped = ratio.clamp(1.0 - self.config.ppo_clip, 1.0 + self.config.ppo_clip)
        return -torch.min(ratio * advantage, clipped * advantage).mean()

    # -- save and restore ------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "policy": copy.deepcopy(self.policy.state_dict()),
            "optimizer": copy.deepcopy(self.optimizer.state_dict()),
            "generator": self.generator.get_state().clone(),
            "ledger": self.ledger.state_dict(),
            "buffer": list(self.buffer),
            "baseline": self.baseline,
            "elite": list(self.elite),
            "updates": self.updates,
            "samples": self.samples,
            "fallbacks": self.fallbacks,
            "known": dict(self.known),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        check_kind(state, self.kind)
        self.policy.load_state_dict(state["policy"])
        self.optimizer.load_state_dict(copy.deepcopy(state["optimizer"]))
        self.generator.set_state(state["generator"].clone())
        self.ledger.load_state_dict(state["ledger"])
        self.buffer = [(tuple(t), float(r), float(lp)) for t, r, lp in state["buffer"]]
        self.baseline = state["baseline"]
        self.elite = [(float(r), tuple(t)) for r, t in state.get("elite", [])]  # older saves
        self.updates = state["updates"]
        self.samples = state.get("samples", 0)  # older saves: no count, no known functions
        self.fallbacks = state.get("fallbacks", 0)
        self.known = {k if isinstance(k, str) else self.function_of(tuple(k)): float(r)
                      for k, r in state.get("known", {}).items()}  # older saves: by sequence
