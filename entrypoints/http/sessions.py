"""Routes of sessions and their messages."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody, PathParameter, QueryParameter

from agentkeep.application.inputs import NewSession
from agentkeep.domain.models import Run, Session
from agentkeep.domain.patches import SessionPatch
from agentkeep.entrypoints.http.idempotency import RESPONSES, IdempotencyKey, respond
from agentkeep.entrypoints.http.params import PAGE, PAGE_SIZE, paging
from agentkeep.entrypoints.http.schemas import SESSION_VIEW, ListOf, session_view
from agentkeep.entrypoints.http.services import Services
from agentkeep.entrypoints.references import user_filter, uuid_ref

SessionRef = Annotated[str, PathParameter(description="The session's id, or its name.")]
SessionId = Annotated[str, PathParameter(description="The session's id.")]


class SessionRoutes(Controller):
    path = "/sessions"
    tags = ["sessions"]

    @post("/", summary="Create a session", responses=RESPONSES)
    async def create(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[NewSession],
        services: NamedDependency[Services],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Session]:
        return await respond(
            request, idempotency_key, services.idempotency, lambda keyed: services.sessions.create(data, keyed)
        )

    @get("/", summary="List sessions, newest first")
    async def list_sessions(
        self,
        services: NamedDependency[Services],
        user_id: Annotated[str | None, QueryParameter(description="A user UUID or legacy integer id.")] = None,
        agent_id: Annotated[str | None, QueryParameter(description="The agent's id or name.", max_length=255)] = None,
        page: Annotated[int, QueryParameter(**PAGE)] = 1,
        page_size: Annotated[int, QueryParameter(**PAGE_SIZE)] = 20,
        sort_desc: FromQuery[bool] = True,
    ) -> ListOf[Session]:
        found = await services.sessions.list(
            paging(page, page_size, sort_desc), user_id=user_filter(user_id), agent_id=agent_id
        )
        return ListOf.of(found)

    @get("/{session_id_or_name:str}", summary="Read a session with its messages", responses=SESSION_VIEW)
    async def read(
        self,
        session_id_or_name: SessionRef,
        services: NamedDependency[Services],
        hide_tools: FromQuery[bool] = False,
        show_system_prompt: FromQuery[bool] = False,
        page: Annotated[int, QueryParameter(**PAGE)] = 1,
        page_size: Annotated[int, QueryParameter(**PAGE_SIZE)] = 20,
        sort_desc: FromQuery[bool] = False,
    ) -> dict[str, Any]:
        found = await services.sessions.get(
            session_id_or_name, paging(page, page_size, sort_desc), hide_tools=hide_tools
        )
        return session_view(found.session, found.messages, hide_tools=hide_tools, show_system_prompt=show_system_prompt)

    @get("/{session_id_or_name:str}/runs", summary="List a session's runs, oldest first")
    async def list_runs(
        self,
        session_id_or_name: SessionRef,
        services: NamedDependency[Services],
        page: Annotated[int, QueryParameter(**PAGE)] = 1,
        page_size: Annotated[int, QueryParameter(**PAGE_SIZE)] = 20,
        sort_desc: FromQuery[bool] = False,
    ) -> ListOf[Run]:
        return ListOf.of(await services.runs.list(session_id_or_name, paging(page, page_size, sort_desc)))

    @patch("/{session_id_or_name:str}", summary="Rename a session or change its metadata")
    async def update(
        self, session_id_or_name: SessionRef, data: JSONBody[SessionPatch], services: NamedDependency[Services]
    ) -> Session:
        return await services.sessions.update(session_id_or_name, data)

    @post("/{session_id:str}/finish", status_code=200, summary="Mark a session finished (idempotent)")
    async def finish(self, session_id: SessionId, services: NamedDependency[Services]) -> Session:
        return await services.sessions.finish(uuid_ref(session_id, "session_id"))

    @delete("/{session_id:str}", summary="Delete a session with its messages")
    async def remove(self, session_id: SessionId, services: NamedDependency[Services]) -> None:
        await services.sessions.delete(uuid_ref(session_id, "session_id"))
