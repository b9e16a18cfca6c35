"""GraphedStep's bookkeeping, with a stand-in for CUDA capture that replays by calling the step.

On a GPU, tests/test_gpu.py checks a real captured graph against the eager step.
"""

from __future__ import annotations

import torch

from nncli.model.mlp import StackedMLP
from nncli.train.backprop import ExplicitStep
from nncli.train.graphs import GraphedStep
from nncli.train.sgd import SGDSettings, StackedSGD


class CallingGraph:
    """What a captured graph does on replay: the step on the graph's own inputs, its outputs
    written into one tensor."""

    def __init__(self, step: ExplicitStep, x: torch.Tensor, y: torch.Tensor, out_shape):
        self.step, self.x, self.y = step, x, y
        self.outputs = torch.empty(out_shape)
        self.replays = 0

    def replay(self) -> None:
        self.replays += 1
        self.outputs.copy_(self.step(self.x, self.y))


def explicit_step(k: int) -> tuple[StackedMLP, ExplicitStep]:
    model = StackedMLP.from_seeds([3, 6, 2], ["tanh", "relu"][:k], list(range(k)))
    settings = [SGDSettings(0.1, momentum=0.9)] * k
    return model, ExplicitStep(
        model, StackedSGD(list(model.parameters()), settings), "classification"
    )


def graphed_step(inner: ExplicitStep, batch_shape: list[int], out_shape, warmup_steps: int = 3):
    """A GraphedStep capturing with `CallingGraph`, warming up on the one stream; and the list
    of graphs it captured."""
    captured: list[CallingGraph] = []

    def capture(step, x, y):
        captured.append(CallingGraph(step, x, y, out_shape))
        return captured[-1], captured[-1].outputs

    graphed = GraphedStep(inner, torch.Size(batch_shape), warmup_steps=warmup_steps,
                          capture=capture, warm_up=lambda step, x, y: step(x, y))  # fmt: skip
    return graphed, captured


def test_full_batches_replay_one_capture_and_train_as_the_eager_step_does():
    for k in (1, 2):
        eager_model, eager = explicit_step(k)
        graphed_model, inner = explicit_step(k)
        graphed, captured = graphed_step(inner, [8, 3] if k == 1 else [k, 8, 3], (k, 8, 2))
        g = torch.Generator().manual_seed(0)
        sizes = [8] * 6 + [5] + [8] * 3  # a shorter last batch mid-way, as at an epoch's end
        for i, b in enumerate(sizes):
            x = torch.randn(*([b, 3] if k == 1 else [k, b, 3]), generator=g)
            y = eager.targets(torch.randint(0, 2, x.shape[:-1], generator=g))
            probe = torch.zeros(2, k) if i == 0 else None
            expected = eager(x, y, probe.clone() if probe is not None else None)
            got = graphed(x, y, probe)
            assert torch.equal(got, expected)
        assert len(captured) == 1
        # The first step probes gradients and the next three warm up, all eagerly; of the other
        # full batches, each replays the one graph.
        assert captured[0].replays == sizes.count(8) - 4
        for a, b in zip(eager_model.parameters(), graphed_model.parameters(), strict=True):
            assert torch.equal(a, b)


def test_replayed_outputs_survive_the_next_replay():
    _, inner = explicit_step(1)
    graphed, _ = graphed_step(inner, [4, 3], (1, 4, 2), warmup_steps=0)
    x, y = torch.randn(4, 3), inner.targets(torch.tensor([0, 1, 1, 0]))
    first = graphed(x, y)
    kept = first.clone()
    second = graphed(2 * x, y)
    assert torch.equal(first, kept) and not torch.equal(first, second)
