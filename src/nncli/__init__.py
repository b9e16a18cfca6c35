"""nncli: train, measure and understand multilayer perceptrons from the command line."""

__version__ = "0.1.0"
