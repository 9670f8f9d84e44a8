"""What every command receives: the settings, read once the command runs (so `--help` works even
when the environment holds a bad value)."""

from __future__ import annotations

import os
from functools import cached_property
from typing import Any

import click
from pydantic import ValidationError

from agentkeep.domain.errors import Invalid
from agentkeep.entrypoints.settings import Settings


class CliContext:
    """The global options of `agentkeep` and the settings they override."""

    def __init__(self, **overrides: Any) -> None:
        self.overrides = {name: value for name, value in overrides.items() if value is not None}

    @cached_property
    def settings(self) -> Settings:
        try:
            return Settings(**self.overrides)
        except ValidationError as e:
            raise Invalid.from_validation_error(e) from None

    @property
    def database_url_hint(self) -> str | None:
        """The database URL in use as far as it is known, valid or not: for error messages."""
        if "settings" in self.__dict__:
            return self.settings.database_url
        return self.overrides.get("database_url") or os.environ.get("AGENTKEEP_DATABASE_URL")


pass_cli = click.make_pass_decorator(CliContext)
