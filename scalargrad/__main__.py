"""``python -m scalargrad draw "(x + y) * z" x=-2 y=5 z=-4 -o graph.svg``."""

import sys

from .cli import main

sys.exit(main())
