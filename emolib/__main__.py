"""``python -m emolib``: see :mod:`emolib.cli`."""
from emolib.cli import main

raise SystemExit(main())
