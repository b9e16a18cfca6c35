"""A saved model as one network to serve outside nncli: the raw inputs in, the input scaling
folded in, and the task's answer out (class probabilities and label, or the value in the
target's units), computed as `ModelCard.predict_raw` computes it."""

from __future__ import annotations

import torch
from torch import nn

from nncli.model.card import ModelCard
from nncli.tasks import CLASSIFICATION, REGRESSION, TASKS

INPUT_NAME = "features"
# The served network's outputs, by task: what each one holds.
OUTPUTS = {
    CLASSIFICATION: {
        "probabilities": "float64 (rows, classes): each class's probability, in `classes` order",
        "label": "int64 (rows,): the index in `classes` of the likeliest class",
    },
    REGRESSION: {"value": "float64 (rows,): the prediction, in the target's own units"},
}


class ServedModel(nn.Module):
    """(N, F) float64 raw inputs, in `card.feature_names` order, to the task's outputs.

    The arithmetic is `predict_raw`'s: scaled in float64, the network in float32, softmax (or
    the target's scaling undone) in float64, so its numbers are the ones `nncli predict` writes.
    """

    def __init__(self, net: nn.Sequential, card: ModelCard):
        super().__init__()
        self.net = net
        self.task = card.task
        self.classes = TASKS[card.task].classes
        scaler = card.scaler
        self.register_buffer("offset", torch.as_tensor(scaler.offset, dtype=torch.float64))
        self.register_buffer("scale", torch.as_tensor(scaler.scale, dtype=torch.float64))
        target = card.target_scaler
        self.unscale = target is not None
        if target is not None:
            offset, scale = (torch.as_tensor(v, dtype=torch.float64).reshape(())
                             for v in (target.offset, target.scale))  # fmt: skip
            self.register_buffer("target_offset", offset)
            self.register_buffer("target_scale", scale)

    @property
    def output_names(self) -> list[str]:
        return list(OUTPUTS[self.task])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outputs = self.net(((x - self.offset) / self.scale).float())  # (N, C)
        if self.classes:
            probabilities = torch.softmax(outputs.double(), dim=-1)  # (N, C)
            return probabilities, probabilities.argmax(dim=-1)  # (N, C), (N,)
        values = outputs.squeeze(-1).double()  # (N,)
        if self.unscale:
            values = values * self.target_scale + self.target_offset
        return (values,)
