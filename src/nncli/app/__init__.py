"""Use cases: each command composed from the layers below; typed results, no printing."""
