"""Reports: what a run shows people (Markdown, HTML, plots)."""
