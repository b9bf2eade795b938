"""Benchmark commands (`frontdoor bench chat|kb|handoff`) and their shared statistics and plots."""
