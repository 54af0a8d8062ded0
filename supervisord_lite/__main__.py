"""``python -m supervisord_lite``: the same as the ``supervisord-lite`` command."""

import sys

from supervisord_lite.cli import main

sys.exit(main())
