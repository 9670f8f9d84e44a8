"""`agentkeep agents|users|sessions|memories list|show|create|delete`: the data, from a terminal."""

from __future__ import annotations

import json
from typing import Any

import click
from pydantic import ValidationError

from agentkeep.application.inputs import NewAgent, NewMemory, NewSession, NewUser
from agentkeep.domain.errors import Invalid
from agentkeep.domain.paging import Paging
from agentkeep.entrypoints.cli.context import CliContext, pass_cli
from agentkeep.entrypoints.cli.output import as_json as json_text
from agentkeep.entrypoints.cli.output import envelope, show
from agentkeep.entrypoints.cli.services import run_with
from agentkeep.entrypoints.container import Container
from agentkeep.entrypoints.references import user_filter, user_ref, uuid_ref

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON (for scripts).")
page_option = click.option("--page", default=1, show_default=True, help="Page, from 1.")
size_option = click.option("--page-size", default=20, show_default=True, help="Items per page, 1..100.")


def _validated(model: type[Any], data: dict[str, Any]) -> Any:
    try:
        return model.model_validate({k: v for k, v in data.items() if v is not None})
    except ValidationError as e:
        raise Invalid.from_validation_error(e) from None


def _deleted(what: str, ref: str) -> None:
    click.echo(f"Deleted {what} {ref}.")


# --- agents -----------------------------------------------------------------------------------


@click.group()
def agents() -> None:
    """Agents: list, show, create, delete."""


@agents.command("list")
@click.option("--active-only", is_flag=True, help="Leave out inactive agents.")
@page_option
@size_option
@json_option
@pass_cli
def list_agents(cli: CliContext, active_only: bool, page: int, page_size: int, as_json: bool) -> None:
    found = run_with(cli, lambda c: c.agents().list(Paging(page, page_size), active_only=active_only))
    show(found, ["id", "name", "display_name", "model", "active"], as_json_output=as_json)


@agents.command("show")
@click.argument("agent")
@json_option
@pass_cli
def show_agent(cli: CliContext, agent: str, as_json: bool) -> None:
    """Show AGENT (an id or a name)."""
    show(run_with(cli, lambda c: c.agents().get(agent)), [], as_json_output=as_json)


@agents.command("create")
@click.argument("name")
@click.option("--display-name")
@click.option("--model", default="echo", show_default=True, help="echo or openai:<model>.")
@click.option("--system-prompt")
@click.option("--description")
@json_option
@pass_cli
def create_agent(cli: CliContext, /, as_json: bool, **fields: Any) -> None:
    """Create an agent called NAME."""
    data = _validated(NewAgent, fields)
    show(run_with(cli, lambda c: c.agents().create(data)), [], as_json_output=as_json)


@agents.command("delete")
@click.argument("agent")
@pass_cli
def delete_agent(cli: CliContext, agent: str) -> None:
    """Delete AGENT with its sessions, messages, memories, bios and profile metadata."""
    run_with(cli, lambda c: c.agents().delete(agent))
    _deleted("agent", agent)


# --- users ------------------------------------------------------------------------------------


@click.group()
def users() -> None:
    """Users: list, show, create, delete."""


@users.command("list")
@click.option("--email", help="Only the user with this email.")
@page_option
@size_option
@json_option
@pass_cli
def list_users(cli: CliContext, email: str | None, page: int, page_size: int, as_json: bool) -> None:
    found = run_with(cli, lambda c: c.users().list(Paging(page, page_size), email=email))
    show(found, ["id", "email", "phone_number", "created_at"], as_json_output=as_json)


@users.command("show")
@click.argument("user_id")
@json_option
@pass_cli
def show_user(cli: CliContext, user_id: str, as_json: bool) -> None:
    """Show the user USER_ID (a UUID, or a legacy integer id)."""
    show(run_with(cli, lambda c: c.users().get(user_ref(user_id))), [], as_json_output=as_json)


@users.command("create")
@click.option("--email")
@click.option("--phone-number")
@click.option("--user-data", help="A JSON object.")
@json_option
@pass_cli
def create_user(
    cli: CliContext, email: str | None, phone_number: str | None, user_data: str | None, as_json: bool
) -> None:
    data = _validated(
        NewUser, {"email": email, "phone_number": phone_number, "user_data": _json(user_data, "user_data")}
    )
    show(run_with(cli, lambda c: c.users().create(data)), [], as_json_output=as_json)


@users.command("delete")
@click.argument("user_id")
@pass_cli
def delete_user(cli: CliContext, user_id: str) -> None:
    """Delete the user USER_ID with its sessions, messages and memories."""
    run_with(cli, lambda c: c.users().delete(user_ref(user_id)))
    _deleted("user", user_id)


# --- sessions ---------------------------------------------------------------------------------


@click.group()
def sessions() -> None:
    """Sessions: list, show (with messages), create, delete."""


@sessions.command("list")
@click.option("--user-id")
@click.option("--agent", help="An agent id or name.")
@page_option
@size_option
@json_option
@pass_cli
def list_sessions(
    cli: CliContext, user_id: str | None, agent: str | None, page: int, page_size: int, as_json: bool
) -> None:
    user = user_filter(user_id) if user_id else None
    found = run_with(cli, lambda c: c.sessions().list(Paging(page, page_size, True), user_id=user, agent_id=agent))
    show(found, ["id", "name", "user_id", "agent_id", "created_at", "finished_at"], as_json_output=as_json)


@sessions.command("show")
@click.argument("session")
@click.option("--page", default=1, show_default=True)
@click.option("--page-size", default=100, show_default=True)
@json_option
@pass_cli
def show_session(cli: CliContext, session: str, page: int, page_size: int, as_json: bool) -> None:
    """Show SESSION (an id or a name) and its messages, oldest first."""
    found = run_with(cli, lambda c: c.sessions().get(session, Paging(page, page_size)))
    if as_json:
        # One document, as the HTTP API's session read: the session's fields plus `messages`.
        click.echo(json_text({**found.session.model_dump(mode="json"), "messages": envelope(found.messages)}))
        return
    show(found.session, [], as_json_output=False)
    show(found.messages, ["created_at", "role", "text_content"], as_json_output=False)


@sessions.command("create")
@click.option("--user-id", required=True)
@click.option("--agent", "agent_id", required=True, help="An agent id or name.")
@click.option("--name")
@json_option
@pass_cli
def create_session(cli: CliContext, user_id: str, agent_id: str, name: str | None, as_json: bool) -> None:
    data = _validated(NewSession, {"user_id": user_id, "agent_id": agent_id, "name": name, "platform": "cli"})
    show(run_with(cli, lambda c: c.sessions().create(data)), [], as_json_output=as_json)


@sessions.command("delete")
@click.argument("session_id")
@pass_cli
def delete_session(cli: CliContext, session_id: str) -> None:
    """Delete SESSION_ID with its messages."""
    run_with(cli, lambda c: c.sessions().delete(uuid_ref(session_id, "session_id")))
    _deleted("session", session_id)


# --- memories ---------------------------------------------------------------------------------


@click.group()
def memories() -> None:
    """Memories: list, show, create, delete."""


@memories.command("list")
@click.option("--agent", help="An agent id or name.")
@click.option("--user-id")
@page_option
@size_option
@json_option
@pass_cli
def list_memories(
    cli: CliContext, agent: str | None, user_id: str | None, page: int, page_size: int, as_json: bool
) -> None:
    user = user_filter(user_id) if user_id else None

    async def work(c: Container) -> Any:
        return await c.memories().list(Paging(page, page_size), agent_id=agent, user_id=user)

    show(run_with(cli, work), ["id", "name", "agent_id", "user_id", "read_mode", "content"], as_json_output=as_json)


@memories.command("show")
@click.argument("memory_id")
@json_option
@pass_cli
def show_memory(cli: CliContext, memory_id: str, as_json: bool) -> None:
    show(run_with(cli, lambda c: c.memories().get(uuid_ref(memory_id, "memory_id"))), [], as_json_output=as_json)


@memories.command("create")
@click.option("--agent", "agent_id", required=True, help="An agent id or name.")
@click.option("--name", required=True)
@click.option("--content", required=True, help="Text, or JSON with --json-content.")
@click.option("--json-content", is_flag=True, help="Read --content as JSON.")
@click.option("--user-id", help="Leave out for an agent-wide memory.")
@click.option("--read-mode", type=click.Choice(["system_prompt", "tool_call"]), default="system_prompt")
@json_option
@pass_cli
def create_memory(cli: CliContext, /, json_content: bool, as_json: bool, **fields: Any) -> None:
    if json_content:
        fields["content"] = _json(fields["content"], "content")
    data = _validated(NewMemory, fields)
    show(run_with(cli, lambda c: c.memories().create(data)), [], as_json_output=as_json)


@memories.command("delete")
@click.argument("memory_id")
@pass_cli
def delete_memory(cli: CliContext, memory_id: str) -> None:
    run_with(cli, lambda c: c.memories().delete(uuid_ref(memory_id, "memory_id")))
    _deleted("memory", memory_id)


def _json(text: str | None, key: str) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        raise Invalid("is not valid JSON", key=key) from None
