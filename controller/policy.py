"""The RNN controller's policy: an LSTM that writes a token sequence slot by slot.

For each slot, in the space's order (per core unit: input 1, input 2, unary 1,
unary 2, binary, as in the paper), the LSTM cell reads the embedding of the
previous choice (a learned start vector before the first slot; one embedding
table per kind: input, unary, binary), and a linear head of the slot's kind
turns the cell's output into one logit per choice of the vocabulary. Logits
are shaped as in the NAS/ENAS controllers, ``C * tanh(logits / T)``, and
choices the grammar masks out get ``-inf``, so they have probability zero.

The heads start at zero, so the untrained policy draws every allowed token
with equal probability, exactly as random search does. With PyTorch's default
initialisation, ``T = 0.5`` and ``C = 2.5`` turned the heads' random weights
into a prior of up to ~15:1 between tokens that differed per seed: on the
benchmark's landscapes that prior, not learning, decided most runs (seeds that
happened to favour the right tokens looked fast, the rest were slower than
random search).

Sampling is pure: ``sample`` and ``score`` are functions of the module's
parameters and, for ``sample``, an explicit ``torch.Generator``. They return a
frozen ``Rollout`` and leave nothing on the module.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from space import SearchSpace

KINDS = ("input", "unary", "binary")


@dataclass(frozen=True)
class Rollout:
    """Token sequences with what the policy thought of each step.

    ``tokens`` [n, L] (long); ``log_prob`` [n, L]: log-probability of each
    chosen token (0 where a slot has one allowed choice); ``entropy`` [n, L]:
    entropy of each step's masked distribution.
    """

    tokens: torch.Tensor
    log_prob: torch.Tensor
    entropy: torch.Tensor

    @property
    def sequence_log_prob(self) -> torch.Tensor:
        """log p(tokens) of each whole sequence, shape [n]."""
        return self.log_prob.sum(dim=1)

    def as_tuples(self) -> list[tuple[int, ...]]:
        return [tuple(int(t) for t in row) for row in self.tokens.tolist()]


class Policy(nn.Module):
    """LSTM cell, per-kind embeddings and heads, per-slot grammar masks."""

    def __init__(self, space: SearchSpace, hidden_size: int = 64, temperature: float = 1.0,
                 tanh_constant: float | None = 2.5) -> None:
        super().__init__()
        self.kinds = [slot.kind for slot in space.slots]
        vocab = {slot.kind: len(slot.choices) for slot in space.slots}
        self.temperature = temperature
        self.tanh_constant = tanh_constant
        self.start = nn.Parameter(torch.zeros(hidden_size))
        self.embed = nn.ModuleDict({k: nn.Embedding(n, hidden_size) for k, n in vocab.items()})
        self.cell = nn.LSTMCell(hidden_size, hidden_size)
        self.head = nn.ModuleDict({k: nn.Linear(hidden_size, n) for k, n in vocab.items()})
        for head in self.head.values():  # untrained, the policy is uniform: random search
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)
        for i, slot in enumerate(space.slots):  # masks are constants, not parameters
            self.register_buffer(f"mask{i}", torch.tensor(slot.mask), persistent=False)

    @property
    def length(self) -> int:
        return len(self.kinds)

    def mask(self, step: int) -> torch.Tensor:
        return getattr(self, f"mask{step}")

    def logits(self, hidden: torch.Tensor, step: int) -> torch.Tensor:
        """Masked, squashed logits of one step, shape [n, vocabulary]."""
        raw = self.head[self.kinds[step]](hidden) / self.temperature
        shaped = raw if self.tanh_constant is None else self.tanh_constant * torch.tanh(raw)
        return shaped.masked_fill(~self.mask(step), float("-inf"))

    def next_input(self, tokens: torch.Tensor, step: int) -> torch.Tensor:
        """Embedding of the token chosen at ``step``: the input of the next step."""
        return self.embed[self.kinds[step]](tokens)


def _step_stats(policy: Policy, logits: torch.Tensor, step: int,
                chosen: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probability of ``chosen`` and entropy of the step's distribution."""
    log_p = torch.log_softmax(logits, dim=-1)
    safe = log_p.masked_fill(~policy.mask(step), 0.0)  # masked: p = 0, contributes 0
    entropy = -(safe.exp() * safe).sum(dim=-1)
    return log_p.gather(1, chosen[:, None]).squeeze(1), entropy


def _run(policy: Policy, n: int, forced: torch.Tensor | None,
         generator: torch.Generator | None) -> Rollout:
    """Walk the slots: sample each token, or read it from ``forced``."""
    x = policy.start.expand(n, -1)
    state = None
    tokens, log_probs, entropies = [], [], []
    for step in range(policy.length):
        h, c = policy.cell(x, state)
        state = (h, c)
        logits = policy.logits(h, step)
        if forced is None:
            chosen = torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=generator)
            chosen = chosen.squeeze(1)
        else:
            chosen = forced[:, step]
        log_p, entropy = _step_stats(policy, logits, step, chosen)
        tokens.append(chosen)
        log_probs.append(log_p)
        entropies.append(entropy)
        x = policy.next_input(chosen, step)
    return Rollout(torch.stack(tokens, 1), torch.stack(log_probs, 1), torch.stack(entropies, 1))


@torch.no_grad()
def sample(policy: Policy, n: int, generator: torch.Generator) -> Rollout:
    """``n`` sequences drawn from the policy (no gradient)."""
    return _run(policy, n, None, generator)


def score(policy: Policy, tokens: torch.Tensor) -> Rollout:
    """Log-probabilities and entropies of given sequences [n, L], differentiable."""
    tokens = torch.as_tensor(tokens, dtype=torch.long)
    return _run(policy, tokens.shape[0], tokens, None)


def probability(policy: Policy, tokens: tuple[int, ...]) -> float:
    """p(tokens) under the policy."""
    with torch.no_grad():
        return float(score(policy, torch.tensor([tokens])).sequence_log_prob.exp())
