"""A controller whose policy only proposes functions it was told does not stall.

Issue 22: a resumed REINFORCE search drew thousands of repeats of
``sigmoid(x) + tanh(x)`` between new functions and passed its time limit on a
busy machine. The controller answers repeats itself for ``RESAMPLE_ROUNDS``
draws; then it proposes an untried function drawn uniformly (a fallback),
deterministically given the seed, and a repeat reaches the runner only when
no untried function is found.
"""

from __future__ import annotations

import torch

from controller import StrategyConfig, make_strategy
from controller.rl import FALLBACK_DRAWS, RESAMPLE_ROUNDS
from space import SearchSpace

torch.set_num_threads(1)

SPACE = SearchSpace(1, unary=["identity", "neg", "sigmoid", "tanh", "sin", "exp"],
                    binary=["add", "mul", "max", "sub"])


def certain_controller(name: str = "reinforce", seed: int = 0):
    """A controller whose policy proposes one sequence with certainty, told once."""
    controller = make_strategy(StrategyConfig(name=name, seed=seed, batch_size=4,
                                              tanh_constant=None, lr=0.0), SPACE)
    with torch.no_grad():
        for head in controller.policy.head.values():
            head.weight.zero_()
            head.bias.fill_(-100.0)
        for step, slot in enumerate(SPACE.slots):  # the first allowed token of every slot
            controller.policy.head[controller.policy.kinds[step]].bias[slot.allowed[0]] = 100.0
    only = controller.ask(1)
    controller.tell([(only[0], 0.5)])
    return controller, only[0]


def test_a_policy_that_only_repeats_gets_an_untried_function():
    controller, only = certain_controller()
    proposals = controller.ask(2)
    known = controller.function_of(only)
    assert len(proposals) == 2 and len({controller.function_of(t) for t in proposals}) == 2
    assert all(controller.function_of(t) != known for t in proposals)
    assert controller.fallbacks == 2
    assert controller.samples <= 1 + 2 * RESAMPLE_ROUNDS  # bounded draws per ask
    controller.tell([(t, 0.1) for t in proposals])  # a fallback is told like any proposal


def test_fallbacks_are_deterministic_given_the_seed_and_survive_a_save():
    first, _ = certain_controller(seed=3)
    second, _ = certain_controller(seed=3)
    second_state = second.state_dict()
    assert first.ask(3) == second.ask(3)
    restored, _ = certain_controller(seed=3)
    restored.load_state_dict(second_state)
    again, _ = certain_controller(seed=3)
    assert restored.ask(3) == again.ask(3) and restored.fallbacks == again.fallbacks == 3


def test_a_space_all_told_sends_the_repeat_to_the_runner():
    controller, only = certain_controller()
    every = {}
    for index in range(SPACE.size):
        tokens = SPACE.tokens_at(index)
        every.setdefault(controller.function_of(tokens), 0.0)
    controller.known = dict.fromkeys(every, 0.0)
    assert controller.ask(1) == [only] and controller.fallbacks == 0
    assert FALLBACK_DRAWS > 0
