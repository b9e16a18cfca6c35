"""A model card: everything besides the weights that a model needs to be used on new data
(config, task, layer sizes, feature and class names, encoding, scalers); and the positive class."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from nncli.data.encoding import Encoder
from nncli.data.preprocessing import Scaler
from nncli.errors import UsageError, excerpt
from nncli.model.mlp import layer_sizes
from nncli.tasks import TASKS

if TYPE_CHECKING:
    from nncli.config.schema import Config
    from nncli.data.prepared import PreparedData


@dataclass(frozen=True)
class ModelCard:
    """Everything besides the weights that a model needs to be used on new data."""

    config: dict
    task: str
    sizes: list[int]
    activation: str
    feature_names: list[str]
    target_name: str
    classes: list | None
    feature_scaling: dict
    target_scaling: dict | None
    # sha256 of the split rows it trained on; evaluate refuses to rebuild a split that changed.
    data_fingerprint: str | None = None
    # Encoder.to_dict(): how a file's feature columns become `feature_names` (format 2 on).
    encoding: dict | None = None

    @property
    def encoder(self) -> Encoder:
        if self.encoding is None:
            return Encoder.numeric(self.feature_names)
        return Encoder.from_dict(self.encoding)

    @property
    def scaler(self) -> Scaler:
        return Scaler.from_dict(self.feature_scaling)

    @property
    def target_scaler(self) -> Scaler | None:
        return Scaler.from_dict(self.target_scaling) if self.target_scaling else None

    def predict_raw(self, net: nn.Module, x: np.ndarray) -> np.ndarray:
        """Outputs for raw (unscaled) features: class probabilities, or targets in their units."""
        inputs = torch.as_tensor(self.scaler.transform(x), dtype=torch.float32)
        with torch.no_grad():
            return self.predictions(net(inputs))

    def predictions(self, outputs: torch.Tensor) -> np.ndarray:
        """The network's (N, C) outputs on scaled features as `predict_raw` returns them."""
        if TASKS[self.task].classes:
            # In float64, whose rows sum to 1 within 1e-15 (float32's within 1e-7).
            return torch.softmax(outputs.double(), dim=-1).numpy()
        values = outputs.squeeze(-1).double().numpy()
        scaler = self.target_scaler
        return scaler.inverse(values) if scaler else values

    def measure(
        self, net: nn.Module, x: np.ndarray, y: np.ndarray, *, threshold: float | None = None
    ) -> dict:
        """The task's full metric set for raw features `x` and original-unit targets `y`; a
        binary model's labels decided at `threshold` when given (else the likelier class)."""
        return self.scores(self.predict_raw(net, x), y, threshold=threshold)

    def scores(
        self, predictions: np.ndarray, y: np.ndarray, *, threshold: float | None = None
    ) -> dict:
        """`measure`'s metrics of `predictions` (`predict_raw`'s) against targets `y`."""
        from nncli.metrics import classification_metrics, regression_metrics, undefined_metrics

        if not np.all(np.isfinite(predictions)):  # a diverged model: no metric means anything
            return undefined_metrics(self.task)
        if TASKS[self.task].classes:
            n_classes = len(self.classes or [])
            return classification_metrics(y, predictions, n_classes, self.positive, threshold)
        return regression_metrics(y, predictions)

    @property
    def positive(self) -> int:
        """Index of the class binary scores take as positive: `data.positive_class`, or 1."""
        return positive_index(self.config.get("data", {}).get("positive_class"), self.classes)

    def for_config(self, config: Config) -> ModelCard:
        """The card of another model of this one's stack: the same data and shapes, `config`'s
        own settings (`describe` of it, without hashing the data again)."""
        return replace(
            self, config=config.model_dump(mode="json"), activation=config.model.activation
        )

    @classmethod
    def describe(cls, config: Config, prepared: PreparedData) -> ModelCard:
        """The card of the model `config` builds for `prepared` data."""
        dataset = prepared.dataset
        return cls(
            config=config.model_dump(mode="json"),
            task=dataset.task,
            sizes=layer_sizes(prepared.n_features, config.model.widths, prepared.n_outputs),
            activation=config.model.activation,
            feature_names=prepared.encoder.feature_names,
            target_name=dataset.target_name,
            classes=dataset.classes,
            feature_scaling=prepared.scaler.to_dict(),
            target_scaling=prepared.target_scaler.to_dict() if prepared.target_scaler else None,
            data_fingerprint=prepared.fingerprint(),
            encoding=prepared.encoder.to_dict(),
        )


def positive_name(positive_class: object, classes: list | None) -> object:
    """The class a binary task's positive-class metrics score, as tables name it; None for
    regression and more than two classes."""
    if classes is None or len(classes) != 2:
        return None
    return classes[positive_index(positive_class, classes)]


def positive_index(positive_class: object, classes: list | None) -> int:
    """Where `data.positive_class` stands among the classes (1, the second, when unset)."""
    if positive_class is None:
        return 1
    classes = classes or []
    names = [str(c) for c in classes]
    if len(classes) != 2:
        raise UsageError("data.positive_class: applies to binary classification only")
    if str(positive_class) not in names:
        raise UsageError(
            f"data.positive_class: {excerpt(positive_class)} is not a class; the classes are"
            f" {excerpt(classes[0])} and {excerpt(classes[1])}"
        )
    return names.index(str(positive_class))
