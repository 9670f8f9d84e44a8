"""Every contract test that takes `storage` runs once per adapter (memory, sqlite, postgres)."""

from tests.support.storages import make_storage, storage  # noqa: F401
