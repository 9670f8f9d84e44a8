"""How a command reaches the use cases: a container on the command's settings, closed afterwards."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from agentkeep.entrypoints.cli.context import CliContext
from agentkeep.entrypoints.container import Container

T = TypeVar("T")


def container_for(cli: CliContext) -> Container:
    container = Container()
    container.settings.override(cli.settings)
    return container


def run_with(cli: CliContext, work: Callable[[Container], Awaitable[T]]) -> T:
    """Run `work` on a fresh container in an event loop of its own; close its storage after."""

    async def main() -> T:
        container = container_for(cli)
        try:
            return await work(container)
        finally:
            await container.storage().close()
            await container.models().aclose()

    return asyncio.run(main())
