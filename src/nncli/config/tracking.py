"""The `tracking` section: where a run's curves are also written besides its own folder
(TensorBoard event files, an MLflow tracking store). Off unless asked for; each backend is an
optional extra, imported only by a run that names it (nncli/tracking/)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from nncli.config.fields import Strict, switchable_section

# MLflow's own default (3.x): a SQLite store; its file store refuses to start since 3.7.
# Relative to the current directory, as output.dir is.
DEFAULT_MLFLOW_URI = "sqlite:///mlruns/mlflow.db"


class MlflowConfig(Strict):
    uri: str | None = Field(
        None,
        min_length=1,
        description="the tracking store: `sqlite:///PATH` (relative to the current directory),"
        " `http(s)://HOST:PORT` of an MLflow server, or another database or store MLflow takes,"
        " but not its deprecated file store (null: `MLFLOW_TRACKING_URI`, else"
        f" `{DEFAULT_MLFLOW_URI}`: no server needed)",
    )
    experiment: str | None = Field(
        None,
        min_length=1,
        max_length=500,
        description="the MLflow experiment the runs go in, made if missing (null: the config's"
        " `name`)",
    )


def mlflow_section(value: Any) -> Any:
    """`tracking.mlflow` as the schema reads it: `true` the defaults, `false` or null off."""
    return switchable_section(value, "{experiment: moons}")


class TrackingConfig(Strict):
    """Off by default; the run's, not a model's: every model of a sweep is tracked alike."""

    tensorboard: bool = Field(
        False,
        description="write TensorBoard event files in the run folder's `tensorboard/` as each"
        " epoch ends (one TensorBoard run per model of a sweep, with its hyperparameters);"
        " needs the `tensorboard` extra",
    )
    mlflow: MlflowConfig | None = Field(
        None,
        description="log to MLflow: a run per model (nested under one run per sweep or"
        " comparison), the resolved config as parameters, each epoch's losses and metrics, the"
        " folder's files and the model as artifacts; `true` or `{}` for the defaults, a section"
        " to change them; needs the `mlflow` extra",
    )

    @field_validator("mlflow", mode="before")
    @classmethod
    def _on_or_off(cls, value: Any) -> Any:
        return mlflow_section(value)

    @property
    def backends(self) -> list[str]:
        """The backends this section turns on, by name."""
        return [name for name, on in (("tensorboard", self.tensorboard),
                                      ("mlflow", self.mlflow is not None)) if on]  # fmt: skip
