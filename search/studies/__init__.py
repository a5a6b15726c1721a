"""Studies over a run's functions: rerank (fresh seeds) and compare (baselines over
models), with their statistics."""
