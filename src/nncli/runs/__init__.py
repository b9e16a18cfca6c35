"""Everything on disk: file names, formats, the run folder's lifecycle, the listing."""
