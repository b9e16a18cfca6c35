"""The network and what describes it: activations, the stacked MLP, diagnostics."""
