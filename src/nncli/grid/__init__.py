"""Many models at once: variants times seeds, stacking, training them, summaries."""
