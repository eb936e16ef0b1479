"""The `cardservice` command line: one module per command group."""

from cardservice.cli.main import main

__all__ = ["main"]
