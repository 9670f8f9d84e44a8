"""Routes of users. A user id in a path may be a legacy integer (served as its mapped UUID)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody, PathParameter, QueryParameter

from agentkeep.application.inputs import NewUser
from agentkeep.domain.models import User
from agentkeep.domain.patches import UserPatch
from agentkeep.entrypoints.http.idempotency import RESPONSES, IdempotencyKey, respond
from agentkeep.entrypoints.http.params import PAGE, PAGE_SIZE, paging
from agentkeep.entrypoints.http.schemas import ListOf
from agentkeep.entrypoints.http.services import Services
from agentkeep.entrypoints.references import user_ref

UserRef = Annotated[str, PathParameter(description="A user UUID, or a legacy integer id.")]


class UserRoutes(Controller):
    path = "/users"
    tags = ["users"]

    @post("/", summary="Create a user", responses=RESPONSES)
    async def create(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[NewUser],
        services: NamedDependency[Services],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[User]:
        return await respond(
            request, idempotency_key, services.idempotency, lambda keyed: services.users.create(data, keyed)
        )

    @get("/", summary="List users")
    async def list_users(
        self,
        services: NamedDependency[Services],
        email: Annotated[str | None, QueryParameter(max_length=320)] = None,
        page: Annotated[int, QueryParameter(**PAGE)] = 1,
        page_size: Annotated[int, QueryParameter(**PAGE_SIZE)] = 20,
        sort_desc: FromQuery[bool] = False,
    ) -> ListOf[User]:
        return ListOf.of(await services.users.list(paging(page, page_size, sort_desc), email=email))

    @get("/{user_id:str}", summary="Read a user")
    async def read(self, user_id: UserRef, services: NamedDependency[Services]) -> User:
        return await services.users.get(user_ref(user_id))

    @patch("/{user_id:str}", summary="Change some fields of a user")
    async def update(self, user_id: UserRef, data: JSONBody[UserPatch], services: NamedDependency[Services]) -> User:
        return await services.users.update(user_ref(user_id), data)

    @delete("/{user_id:str}", summary="Delete a user with its sessions, messages and memories")
    async def remove(self, user_id: UserRef, services: NamedDependency[Services]) -> None:
        await services.users.delete(user_ref(user_id))
