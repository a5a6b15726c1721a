"""The orchestrator of actsearch: the search engine at this level, and three wings.

The engine (this folder):

    search.config       YAML -> frozen RunConfig (one strict loader)
    search.store        the run's SQLite database (results, config, strategy checkpoints)
    search.rows         the store's row records and its NaN/inf encoding
    search.child        what a worker runs for one child (plain data in and out)
    search.backends     the backend interface and InlineBackend
    search.ray_backend  RayBackend (ray.wait, per-child resources, retries, lost nodes)
    search.progress     what the progress bar shows, read from the store
    search.runner       ask -> decode -> de-duplicate -> pre-screen -> submit -> record -> tell
    search.resume       a checkpoint and the store read back as where a search takes up
    search.halving      successive halving's promotions, decided from the store
    search.launch       set up, run and resume a search from a config or a run directory

The wings, importing the engine and never each other backwards:

    search.inspect   reads a run: top, show, plot, the HTML report, export, export-table
    search.studies   rerank and compare: more seeds, baselines, models, their statistics
    search.cli       the ``actsearch`` command line (cli -> inspect, studies -> engine)

Only this package imports Ray and the store (docs/contracts.md). Nothing is
imported here, so ``actsearch top`` does not pay for Ray.
"""
