"""``python -m senet_lib.bench ...``: see :mod:`senet_lib.bench.cli`."""

from .cli import main

raise SystemExit(main())
