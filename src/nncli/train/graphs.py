"""The explicit training step captured once as a CUDA graph, then replayed: one launch a step.

A small MLP's step is some 25 kernels of a few microseconds each; on a GPU the host's cost of
launching them, not the arithmetic, sets the pace. Every full batch has the same shapes, so the
step is captured once (after warm-up steps on a side stream, as PyTorch's CUDA-graph notes ask)
and replayed with each batch copied into the graph's own input tensors. The epoch's shorter last
batch and the gradient-probing steps run eagerly. Parameters, momentum buffers and per-model
settings are all updated in place, so the addresses the graph captured stay valid.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from nncli.train.backprop import ExplicitStep

# (step, x, y) -> (a graph with .replay(), the outputs tensor each replay writes)
Capture = Callable[[ExplicitStep, torch.Tensor, torch.Tensor], tuple[object, torch.Tensor]]


def cuda_capture(step: ExplicitStep, x: torch.Tensor, y: torch.Tensor):
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        outputs = step(x, y)
    return graph, outputs


def side_stream_step(step: ExplicitStep, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """One eager step on a side stream, ordered after and before the current stream's work."""
    current = torch.cuda.current_stream()
    side = torch.cuda.Stream()
    side.wait_stream(current)
    with torch.cuda.stream(side):
        outputs = step(x, y)
    current.wait_stream(side)
    outputs.record_stream(current)  # the epoch's loss is taken from it on the current stream
    return outputs


class GraphedStep:
    """An `ExplicitStep` whose full batches replay one captured graph."""

    def __init__(
        self,
        step: ExplicitStep,
        batch_shape: torch.Size,
        *,
        warmup_steps: int = 3,
        capture: Capture = cuda_capture,
        warm_up: Callable = side_stream_step,
    ):
        self.step = step
        self.predict = step.predict
        self.targets = step.targets
        self.denominator = step.denominator
        self.batch_shape = batch_shape  # a full batch's x; others run eagerly
        self.warmup_left = warmup_steps
        self.capture = capture
        self.warm_up = warm_up
        self.graph = None
        self.inputs: tuple[torch.Tensor, torch.Tensor] | None = None
        self.outputs: torch.Tensor | None = None

    def __call__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        grad_norms: torch.Tensor | None = None,
        denominator: float | torch.Tensor | None = None,
    ) -> torch.Tensor:
        """As `ExplicitStep.__call__`; a probing step, a shard or a short batch runs eagerly."""
        if grad_norms is not None or denominator is not None or x.shape != self.batch_shape:
            return self.step(x, y, grad_norms, denominator)
        if self.graph is None:
            if self.warmup_left > 0:
                self.warmup_left -= 1
                return self.warm_up(self.step, x, y)
            # Capturing records the step without running it; the replay below runs it.
            self.inputs = (x.clone(), y.clone())
            self.graph, self.outputs = self.capture(self.step, *self.inputs)
        self.inputs[0].copy_(x)
        self.inputs[1].copy_(y)
        self.graph.replay()
        return self.outputs.clone()  # the next replay overwrites the graph's own
