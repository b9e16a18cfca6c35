"""Tensors in, trained stacks out: the engine and its steps; no files, no printing."""
