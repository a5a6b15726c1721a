"""``python -m search.cli``: the command line, as the ``actsearch`` script runs it."""

import sys

from search.cli.main import main

sys.exit(main())
