"""Infrastructure every part uses: Redis stream workers, per-key ordering, live fan-out, metrics, and the process supervisor."""
