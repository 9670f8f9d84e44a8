"""agentkeep's storage contract: what every adapter of `agentkeep.domain.ports.Storage` does, as a
test suite that runs on any of them.

    pytest --pyargs agentkeep.testing.contract --agentkeep-storage=my_pkg.storage:make_storage

runs it on the storage `make_storage()` returns (a new, empty one per call; see
`agentkeep.testing.storages`), and its state machine compares that storage with agentkeep's
in-memory one over random sequences of operations. Without `--agentkeep-storage` it runs on
agentkeep's own adapters: memory, SQLite, and PostgreSQL when `AGENTKEEP_TEST_POSTGRES_URL` is set.
"""
