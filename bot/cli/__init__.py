"""The `frontdoor` command line: one module per command group."""
