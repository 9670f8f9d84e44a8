"""The built distribution as a user installs it: one `agentkeep` package, beside a project that has
its own `domain`, `application` and `migrations` packages (a hexagonal project, like agentkeep).

The wheel is built from a copy of the source tree and installed, without dependencies, into a new
virtual environment; the dependencies come from this test run's environment through a path entry
(a `.pth` line, which does not run that environment's own `.pth` files, so agentkeep's editable
install there stays out). Then the user's suite runs in that environment.
"""

from __future__ import annotations

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
    "tests/__init__.py": "",
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
    assert "3 passed" in result.stdout


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
