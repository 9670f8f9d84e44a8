"""The `agentkeep` command line (click). `main` is the console script."""

from entrypoints.cli.app import cli, main

__all__ = ["cli", "main"]
