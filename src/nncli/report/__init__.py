"""Results to text, HTML and PNG; reads results and file names, never the lifecycle."""
