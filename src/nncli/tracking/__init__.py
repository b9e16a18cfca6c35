"""Tracking: a run's curves, parameters and files also written to TensorBoard and MLflow.

`client.Tracking` is what a command holds: it checks the configured backends before training
(one line and exit 2 for one that cannot work), then hands every epoch's history rows to a
worker process (`worker.py`) that writes them with each backend (`tensorboard.py`,
`mlflow.py`), so that importing and writing cost the training process next to nothing.
"""
