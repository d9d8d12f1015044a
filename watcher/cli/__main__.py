"""``python -m watcher.cli``: the same as the ``watcher`` command."""

import sys

from watcher.cli import main

sys.exit(main())
