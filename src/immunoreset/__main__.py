"""``python -m immunoreset`` runs the command line."""

from immunoreset.cli import main

main()
