"""What a run is: the typed schema, YAML loading, overrides, errors by file and key."""
