"""Integration tests that take a `storage` run once per adapter, like the contract suite."""

from tests.contract.conftest import make_storage, storage  # noqa: F401
