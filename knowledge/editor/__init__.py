"""The knowledge editor: its page and API, article editing, import and export, and the backend it runs on."""
