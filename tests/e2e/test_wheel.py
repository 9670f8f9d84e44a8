"""The built distribution as a user installs it: one `agentkeep` package, beside a project that has
its own `domain`, `application` and `migrations` packages (a hexagonal project, like agentkeep),
whose suite uses agentkeep's pytest plugin, strategies and in-memory app, and runs agentkeep's
shipped contract suite on a storage of its own (`my_storage`).

The wheel is built from a copy of the source tree and installed, without dependencies, into a new
virtual environment; the dependencies (the `testing` extra's among them: pytest, pytest-asyncio,
Hypothesis) come from this test run's environment through a path entry (a `.pth` line, which does
not run that environment's own `.pth` files, so agentkeep's editable install there stays out). Then
the user's suite runs in that environment. The project runs pytest-asyncio in strict mode, the
default, so nothing of agentkeep's leans on this repository's `asyncio_mode = "auto"`.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IGNORED = shutil.ignore_patterns(
    ".git", ".venv", "*.egg-info", "build", "dist", "__pycache__", ".*_cache", ".hypothesis", "*.db*", "results"
)

USER_PROJECT = {
    "domain/__init__.py": "",
    "domain/models.py": """
        from dataclasses import dataclass

        @dataclass
        class Order:
            reference: str
    """,
    "application/__init__.py": "",
    "application/orders.py": """
        from domain.models import Order

        def place(reference: str) -> Order:
            return Order(reference)
    """,
    "migrations/__init__.py": "NAME = 'the user project migrations'\n",
    "pyproject.toml": """
        [tool.pytest.ini_options]
        asyncio_mode = "strict"
        asyncio_default_fixture_loop_scope = "function"
    """,
    "my_storage.py": """
        from agentkeep import MemoryStorage


        class MyStorage(MemoryStorage):
            \"\"\"The user's own adapter (here agentkeep's in-memory one under another name).\"\"\"


        def make_storage():
            return MyStorage()


        class CommitsOnError(MemoryStorage):
            \"\"\"A broken adapter: `run` keeps what the work wrote even when it raised.\"\"\"

            async def run(self, work):
                async with self.unit_of_work() as uow:
                    try:
                        return await work(uow)
                    finally:
                        await uow.commit()


        def make_broken_storage():
            return CommitsOnError()
    """,
    "tests/__init__.py": "",
    "tests/test_with_agentkeep.py": """
        import asyncio
        import uuid

        import pytest
        from hypothesis import given, settings
        from hypothesis import strategies as st

        from agentkeep import MemoryStorage
        from agentkeep.testing.strategies import users


        @pytest.mark.asyncio
        async def test_a_use_case_on_memory(agentkeep_container, make_agent):
            agent = await make_agent(name="ada")
            assert (await agentkeep_container.agents().get("ada")).id == agent.id


        def test_the_http_api_in_memory(agentkeep_client):
            assert agentkeep_client.post("/api/v1/agents", json={"name": "bob"}).status_code == 201
            reply = agentkeep_client.post("/api/v1/agents/bob/run", json={"message_content": "hi"})
            assert reply.status_code == 200, reply.text
            session = agentkeep_client.get(f"/api/v1/sessions/{reply.json()['session_id']}").json()
            assert [m["text_content"] for m in session["messages"]["items"]] == ["hi", reply.json()["message"]]


        @pytest.mark.asyncio
        async def test_the_async_client_reads_what_the_factories_stored(agentkeep_async_client, make_session):
            session = await make_session(name="daily")
            response = await agentkeep_async_client.get(f"/api/v1/sessions/{session.id}")
            assert response.status_code == 200, response.text
            assert response.json()["name"] == "daily"


        STORAGE = MemoryStorage()


        @settings(max_examples=30, database=None)
        @given(user=users(ids=st.builds(uuid.uuid4), email=st.none()))
        def test_every_example_is_a_new_user(user):
            asyncio.run(STORAGE.run(lambda uow: uow.users.add(user)))
    """,
    "tests/test_both.py": """
        import asyncio
        from pathlib import Path

        import agentkeep
        import migrations
        from application.orders import place
        from domain.models import Order

        from agentkeep import MemoryStorage
        from agentkeep.domain.models import Agent
        from agentkeep.adapters.storage.sql.migrator import migrations_directory


        def test_the_projects_own_packages_are_its_own():
            assert place("A-1") == Order("A-1")
            assert migrations.NAME == "the user project migrations"


        def test_agentkeep_comes_from_the_installed_wheel():
            assert "site-packages" in Path(agentkeep.__file__).parts
            assert agentkeep.__version__ != "0.0.0"
            assert (migrations_directory() / "env.py").is_file()
            assert migrations_directory().parent == Path(agentkeep.__file__).parent


        def test_the_memory_storage_keeps_an_agent():
            async def round_trip():
                storage = MemoryStorage()
                agent = Agent(name="alice")
                async with storage.unit_of_work() as uow:
                    await uow.agents.add(agent)
                    await uow.commit()
                async with storage.unit_of_work() as uow:
                    return await uow.agents.get(agent.id)

            assert asyncio.run(round_trip()).name == "alice"
    """,
}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("source") / "agentkeep"
    shutil.copytree(ROOT, source, symlinks=True, ignore=IGNORED)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", out, source],
        check=True,
        stdin=subprocess.DEVNULL,
    )
    (built,) = out.glob("agentkeep-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment with the wheel installed (and this run's packages on its path)."""
    home = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", home], check=True)
    python = home / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps", wheel],
        check=True,
        stdin=subprocess.DEVNULL,
    )
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(purelib) / "dependencies.pth").write_text(f"{sysconfig.get_paths()['purelib']}\n")
    return home


def test_the_wheel_holds_one_top_level_package(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/", 1)[0] for name in names}
    version = wheel.name.split("-")[1]  # agentkeep-0.1.0-py3-none-any.whl
    assert top_level == {"agentkeep", f"agentkeep-{version}.dist-info"}
    for room in ("domain", "application", "adapters", "entrypoints", "migrations", "testing"):
        assert f"agentkeep/{room}/__init__.py" in names
    assert "agentkeep/migrations/script.py.mako" in names
    assert any(name.startswith("agentkeep/migrations/versions/0001_") for name in names)


def test_a_project_with_its_own_domain_runs_its_suite_beside_agentkeep(venv: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    for name, text in USER_PROJECT.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(textwrap.dedent(text))
    result = subprocess.run(
        [venv / "bin" / "python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=project,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "7 passed" in result.stdout


def test_the_testing_extra_names_what_the_plugin_needs(venv: Path) -> None:
    result = subprocess.run(
        [venv / "bin" / "python", "-c", "import importlib.metadata as m; print('\\n'.join(m.requires('agentkeep')))"],
        capture_output=True,
        text=True,
        check=True,
    )
    extra = {line.split(">=")[0] for line in result.stdout.splitlines() if 'extra == "testing"' in line}
    assert extra == {"pytest", "pytest-asyncio", "hypothesis"}


CONTRACT = "agentkeep.testing.contract"


def contract(venv: Path, project: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """agentkeep's shipped contract suite, run from the user's project with `options`."""
    for name, text in USER_PROJECT.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(textwrap.dedent(text))
    return subprocess.run(
        [
            venv / "bin" / "python",
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "--pyargs",
            "agentkeep.testing.contract",
            *options,
        ],
        cwd=project,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )


def test_the_shipped_contract_suite_runs_on_the_users_storage(venv: Path, tmp_path: Path) -> None:
    result = contract(venv, tmp_path, "-q", "-rs", "--agentkeep-storage=my_storage:make_storage")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    passed = int(re.search(r"(\d+) passed", result.stdout).group(1))  # type: ignore[union-attr]
    assert passed > 150
    assert "skipped" not in result.stdout  # the state machine too: memory against the user's storage
    listed = contract(venv, tmp_path, "--collect-only", "-q", "--agentkeep-storage=my_storage:make_storage")
    assert "test_the_storage_agrees_with_memory[my_storage:make_storage]" in listed.stdout


def test_the_shipped_contract_suite_fails_a_storage_that_breaks_it(venv: Path, tmp_path: Path) -> None:
    result = contract(
        venv, tmp_path, "-q", "-x", "-k", "test_unit_of_work", "--agentkeep-storage=my_storage:make_broken_storage"
    )
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr
    assert "1 failed" in result.stdout


def test_a_storage_that_cannot_be_found_is_one_usage_error(venv: Path, tmp_path: Path) -> None:
    for spec, said in [
        ("nowhere", "give one of memory, sqlite, postgres or module:callable"),
        ("no_such_module:make", "cannot import no_such_module"),
        ("my_storage:nothing", "my_storage has no callable nothing"),
    ]:
        result = contract(venv, tmp_path, f"--agentkeep-storage={spec}")
        assert result.returncode == 4, result.stdout + result.stderr  # pytest's usage error
        assert f"--agentkeep-storage={spec}: {said}" in result.stderr
        assert "Traceback" not in result.stderr


def test_the_installed_command_upgrades_a_new_database(venv: Path, tmp_path: Path) -> None:
    database = tmp_path / "agentkeep.db"
    result = subprocess.run(
        [venv / "bin" / "agentkeep", "db", "upgrade"],
        cwd=tmp_path,
        env={"AGENTKEEP_DATABASE_URL": f"sqlite:///{database}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert database.is_file()
