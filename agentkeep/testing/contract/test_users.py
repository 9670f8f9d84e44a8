"""Users: ids, unique emails, get-or-create, paging, patches, delete."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, timedelta, timezone

import pytest

from agentkeep.domain.errors import Conflict
from agentkeep.domain.models import User
from agentkeep.domain.paging import Paging
from agentkeep.domain.patches import UserPatch
from agentkeep.domain.ports import Storage
from agentkeep.testing.builders import a_user, add, at


async def test_user_made_without_id_is_stored_under_the_id_the_core_made(storage: Storage) -> None:
    user = User()

    await add(storage, user)

    assert isinstance(user.id, uuid.UUID)
    assert await storage.run(lambda uow: uow.users.get(user.id)) == user
    listed, _ = await storage.run(lambda uow: uow.users.list(Paging()))
    assert [u.id for u in listed] == [user.id]


async def test_caller_given_id_is_kept(storage: Storage) -> None:
    given = uuid.UUID("0f0e0d0c-0b0a-4908-8706-050403020100")

    await add(storage, a_user(id=given))

    stored = await storage.run(lambda uow: uow.users.get(given))
    assert stored is not None
    assert stored.id == given


async def test_duplicate_id_is_a_conflict_on_id(storage: Storage) -> None:
    first = a_user()
    await add(storage, first)

    with pytest.raises(Conflict) as caught:
        await add(storage, a_user(id=first.id))

    assert caught.value.key == "id"


async def test_duplicate_email_in_another_case_is_a_conflict_on_email(storage: Storage) -> None:
    await add(storage, a_user(email="ada@example.com"))

    with pytest.raises(Conflict) as caught:
        await add(storage, a_user(email="Ada@EXAMPLE.com"))

    assert caught.value.key == "email"


async def test_users_without_email_do_not_clash(storage: Storage) -> None:
    await add(storage, a_user(), a_user())

    _, total = await storage.run(lambda uow: uow.users.list(Paging()))
    assert total == 2


async def test_email_is_stored_lower_case_and_found_in_any_case(storage: Storage) -> None:
    user = a_user(email="Grace.Hopper@Example.COM")
    await add(storage, user)

    found = await storage.run(lambda uow: uow.users.get_by_email("GRACE.HOPPER@example.com"))

    assert found is not None
    assert found.id == user.id
    assert found.email == "grace.hopper@example.com"


async def test_unknown_user_is_none(storage: Storage) -> None:
    assert await storage.run(lambda uow: uow.users.get(uuid.uuid4())) is None
    assert await storage.run(lambda uow: uow.users.get_by_email("nobody@example.com")) is None


async def test_get_or_create_by_id_creates_once_and_then_returns_the_stored_user(storage: Storage) -> None:
    user = a_user(user_data={"plan": "free"})

    first, created = await storage.run(lambda uow: uow.users.get_or_create(user))
    again, created_again = await storage.run(
        lambda uow: uow.users.get_or_create(a_user(id=user.id, user_data={"plan": "pro"}))
    )

    assert (first, created) == (user, True)
    assert (again, created_again) == (user, False)
    _, total = await storage.run(lambda uow: uow.users.list(Paging()))
    assert total == 1


async def test_get_or_create_by_id_with_another_users_email_is_a_conflict_on_email(storage: Storage) -> None:
    await add(storage, a_user(email="taken@example.com"))

    with pytest.raises(Conflict) as caught:
        await storage.run(lambda uow: uow.users.get_or_create(a_user(email="TAKEN@example.com")))

    assert caught.value.key == "email"


async def test_get_or_create_by_email_creates_once_whatever_the_case(storage: Storage) -> None:
    user = a_user(email="lin@example.com")

    first, created = await storage.run(lambda uow: uow.users.get_or_create_by_email(user))
    again, created_again = await storage.run(
        lambda uow: uow.users.get_or_create_by_email(a_user(email="LIN@Example.com"))
    )

    assert (first, created) == (user, True)
    assert (again, created_again) == (user, False)


async def test_concurrent_get_or_create_by_id_creates_exactly_one_user(storage: Storage) -> None:
    user_id = uuid.uuid4()

    results = await asyncio.gather(
        *(storage.run(lambda uow: uow.users.get_or_create(a_user(id=user_id))) for _ in range(20))
    )

    assert sum(created for _, created in results) == 1
    assert {stored.id for stored, _ in results} == {user_id}
    _, total = await storage.run(lambda uow: uow.users.list(Paging()))
    assert total == 1


async def test_concurrent_get_or_create_by_email_creates_exactly_one_user(storage: Storage) -> None:
    results = await asyncio.gather(
        *(
            storage.run(lambda uow: uow.users.get_or_create_by_email(a_user(email="race@example.com")))
            for _ in range(20)
        )
    )

    assert sum(created for _, created in results) == 1
    assert len({stored.id for stored, _ in results}) == 1
    _, total = await storage.run(lambda uow: uow.users.list(Paging()))
    assert total == 1


async def test_list_pages_oldest_first_with_the_total(storage: Storage) -> None:
    users = [a_user(created_at=at(i)) for i in range(5)]
    await add(storage, *reversed(users))

    first, total = await storage.run(lambda uow: uow.users.list(Paging(page=1, page_size=2)))
    last, total_last = await storage.run(lambda uow: uow.users.list(Paging(page=3, page_size=2)))

    assert [u.id for u in first] == [users[0].id, users[1].id]
    assert [u.id for u in last] == [users[4].id]
    assert total == total_last == 5


async def test_page_past_the_end_is_empty_with_the_total(storage: Storage) -> None:
    await add(storage, a_user(), a_user(), a_user())

    items, total = await storage.run(lambda uow: uow.users.list(Paging(page=4, page_size=1)))

    assert items == []
    assert total == 3


async def test_sort_desc_lists_newest_first(storage: Storage) -> None:
    users = [a_user(created_at=at(i)) for i in range(3)]
    await add(storage, *users)

    items, _ = await storage.run(lambda uow: uow.users.list(Paging(sort_desc=True)))

    assert [u.id for u in items] == [u.id for u in reversed(users)]


async def test_equal_created_at_is_ordered_by_id(storage: Storage) -> None:
    users = [a_user(created_at=at(0)) for _ in range(6)]
    await add(storage, *users)

    items, _ = await storage.run(lambda uow: uow.users.list(Paging()))

    assert [u.id for u in items] == sorted(u.id for u in users)


async def test_list_filters_by_email_in_any_case(storage: Storage) -> None:
    wanted = a_user(email="pick@example.com")
    await add(storage, wanted, a_user(email="other@example.com"), a_user())

    items, total = await storage.run(lambda uow: uow.users.list(Paging(), email="PICK@example.com"))

    assert [u.id for u in items] == [wanted.id]
    assert total == 1


async def test_timestamps_come_back_aware_utc_and_equal_to_what_was_written(storage: Storage) -> None:
    written = at(0).astimezone(timezone(timedelta(hours=5, minutes=30))).replace(microsecond=654321)
    user = a_user(created_at=written)
    await add(storage, user)

    stored = await storage.run(lambda uow: uow.users.get(user.id))

    assert stored is not None
    assert stored.created_at == written
    assert stored.created_at.microsecond == 654321
    assert stored.created_at.utcoffset() == timedelta(0)
    assert stored.created_at.tzinfo is not None
    assert stored.created_at.astimezone(UTC).isoformat() == stored.created_at.isoformat()


async def test_user_data_json_round_trips(storage: Storage) -> None:
    data = {
        "name": "Zoë 🦊 — 世界",
        "nested": {"list": [1, -2, 2**62, True, None, "x", {"deep": []}], "empty": {}},
        'quote"key': "line\nbreak\ttab",
        "ratio": 0.125,
    }
    user = a_user(user_data=data)
    await add(storage, user)

    stored = await storage.run(lambda uow: uow.users.get(user.id))

    assert stored is not None
    assert stored.user_data == data


async def test_patch_sets_only_given_fields_and_null_clears(storage: Storage) -> None:
    user = a_user(email="before@example.com", phone_number="+1 555", user_data={"a": 1}, created_at=at(0))
    await add(storage, user)

    updated = await storage.run(lambda uow: uow.users.update(user.id, UserPatch.parse({"phone_number": None})))
    stored = await storage.run(lambda uow: uow.users.get(user.id))

    assert updated is not None
    assert updated == stored
    assert updated.phone_number is None
    assert (updated.email, updated.user_data, updated.created_at) == ("before@example.com", {"a": 1}, at(0))
    assert updated.updated_at is not None
    assert updated.updated_at > user.updated_at  # type: ignore[operator]


async def test_patch_replaces_json_whole_and_lower_cases_email(storage: Storage) -> None:
    user = a_user(user_data={"a": 1, "b": 2})
    await add(storage, user)

    patch = UserPatch.parse({"user_data": {"c": 3}, "email": "New@Example.com"})
    updated = await storage.run(lambda uow: uow.users.update(user.id, patch))

    assert updated is not None
    assert updated.user_data == {"c": 3}
    assert updated.email == "new@example.com"


async def test_patch_to_a_taken_email_is_a_conflict_on_email(storage: Storage) -> None:
    user = a_user(email="mine@example.com")
    await add(storage, user, a_user(email="theirs@example.com"))

    with pytest.raises(Conflict) as caught:
        await storage.run(lambda uow: uow.users.update(user.id, UserPatch.parse({"email": "Theirs@example.com"})))

    assert caught.value.key == "email"


async def test_patch_to_its_own_email_is_no_conflict(storage: Storage) -> None:
    user = a_user(email="mine@example.com")
    await add(storage, user)

    updated = await storage.run(lambda uow: uow.users.update(user.id, UserPatch.parse({"email": "MINE@example.com"})))

    assert updated is not None
    assert updated.email == "mine@example.com"


async def test_empty_patch_changes_nothing(storage: Storage) -> None:
    user = a_user()
    await add(storage, user)

    assert await storage.run(lambda uow: uow.users.update(user.id, UserPatch())) == user


async def test_patch_of_an_unknown_user_is_none(storage: Storage) -> None:
    assert await storage.run(lambda uow: uow.users.update(uuid.uuid4(), UserPatch.parse({"phone_number": "1"}))) is None


async def test_delete_tells_whether_there_was_a_user(storage: Storage) -> None:
    user = a_user()
    await add(storage, user)

    assert await storage.run(lambda uow: uow.users.delete(user.id)) is True
    assert await storage.run(lambda uow: uow.users.delete(user.id)) is False
    assert await storage.run(lambda uow: uow.users.get(user.id)) is None
