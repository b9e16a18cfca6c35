"""A config's data section turned into prepared tensors: load, type, encode, split, scale."""
