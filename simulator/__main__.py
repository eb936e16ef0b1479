"""``python -m simulator`` runs the `cardsim` CLI."""

from .cli import main

main()
