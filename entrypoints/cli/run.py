"""`agentkeep run` (one message) and `agentkeep chat` (a conversation, Ctrl-D to leave)."""

from __future__ import annotations

import secrets
from typing import Any

import click
from pydantic import ValidationError

from agentkeep.application.run_agent import RunAgent, RunRequest, RunResult
from agentkeep.domain.errors import Invalid
from agentkeep.entrypoints.cli.context import CliContext, pass_cli
from agentkeep.entrypoints.cli.output import as_json
from agentkeep.entrypoints.cli.services import run_with
from agentkeep.entrypoints.container import Container


def _request(fields: dict[str, Any]) -> RunRequest:
    try:
        return RunRequest.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as e:
        raise Invalid.from_validation_error(e) from None


async def streamed(run_agent: RunAgent, agent: str, request: RunRequest) -> RunResult:
    """Run, printing the reply as it streams in (then a line break)."""
    started = await run_agent.start(agent, request)
    shown: list[str] = []

    def show(text: str) -> None:
        shown.append(text)
        click.echo(text, nl=False)

    try:
        return await run_agent.finish(started, on_delta=show)
    finally:
        if shown:
            click.echo("")


@click.command()
@click.argument("agent")
@click.argument("message")
@click.option("--user-id", help="A user UUID or legacy integer id (created when unknown).")
@click.option("--email", help="Find or create the user by email.")
@click.option("--session", "session_name", help="The session's name (created when new).")
@click.option("--system-prompt", help="A system prompt for this run only.")
@click.option("--json", "as_json_output", is_flag=True, help="Print the whole result as JSON.")
@pass_cli
def run(
    cli: CliContext,
    agent: str,
    message: str,
    user_id: str | None,
    email: str | None,
    session_name: str | None,
    system_prompt: str | None,
    as_json_output: bool,
) -> None:
    """Send MESSAGE to AGENT (an id or a name); print the reply and the session."""
    request = _request(
        {
            "message_content": message,
            "user_id": user_id,
            "user": {"email": email} if email else None,
            "session_name": session_name,
            "session_origin": "cli",
            "system_prompt": system_prompt,
        }
    )
    if as_json_output:
        click.echo(as_json(run_with(cli, lambda c: c.run_agent()(agent, request))))
        return
    result: RunResult = run_with(cli, lambda c: streamed(c.run_agent(), agent, request))
    click.echo(f"(session {result.session_name or result.session_id})", err=True)


@click.command()
@click.argument("agent")
@click.option("--session", "session_name", help="Continue this session (default: a new cli-<8 hex> one).")
@pass_cli
def chat(cli: CliContext, agent: str, session_name: str | None) -> None:
    """Talk with AGENT, one line at a time; Ctrl-D leaves."""
    name = session_name or f"cli-{secrets.token_hex(4)}"

    async def converse(container: Container) -> None:
        await container.agents().get(agent)  # an unknown agent fails now, not after the first line
        click.echo(f"Session {name}. Ctrl-D to leave.", err=True)
        run_agent = container.run_agent()
        while True:
            try:
                # Blocking on purpose: the conversation is the loop's only task. (Reading on a thread
                # instead would make Ctrl-C wait for that thread's read to end.)
                line = input("> ")  # noqa: ASYNC250
            except EOFError:
                click.echo("", err=True)
                return
            if not line.strip():
                continue
            request = _request({"message_content": line, "session_name": name, "session_origin": "cli"})
            await streamed(run_agent, agent, request)

    run_with(cli, converse)
