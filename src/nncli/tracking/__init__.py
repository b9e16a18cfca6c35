"""Tracking: a run's curves, parameters and files also written to TensorBoard and MLflow.

`client.Tracking` is what a command holds: it checks the configured backends before training
(one line and exit 2 for one that cannot work), then hands every epoch's history rows to each
backend (`tensorboard.py` in the command's process, `mlflow.py` in a worker process,
`worker.py`), each written until it fails (`backends.py`).
"""
