"""``python -m qresearch`` runs the command-line interface."""

from qresearch.cli import main

raise SystemExit(main())
