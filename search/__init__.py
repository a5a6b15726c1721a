"""The orchestrator of actsearch: the search loop, its backends, the store and the CLI.

    search.config    YAML -> frozen RunConfig (one strict loader)
    search.store     the run's SQLite database (results, config, strategy checkpoints)
    search.rows      the store's row records and its NaN/inf encoding
    search.child     what a worker runs for one child (plain data in and out)
    search.backends  InlineBackend and RayBackend (ray.wait, per-child resources, retries)
    search.runner    ask -> decode -> de-duplicate -> pre-screen -> submit -> record -> tell
    search.launch    set up, run and resume a search from a config or a run directory
    search.report    top table, one candidate, export;  search.plot: the figure
    search.cli       the ``actsearch`` command line

Only this package imports Ray and the store (docs/contracts.md). Nothing is
imported here, so ``actsearch top`` does not pay for Ray.
"""
