"""Integration tests that take a `storage` run once per adapter, like the contract suite."""

from tests.support.storages import make_storage, storage  # noqa: F401
