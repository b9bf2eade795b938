"""The one Markdown parser, safe HTML for the web, and the per-channel previews for the knowledge editor."""
