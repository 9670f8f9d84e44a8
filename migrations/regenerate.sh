#!/usr/bin/env bash
# Keep the migrations in step with adapters/storage/sql/tables.py.
#
#   migrations/regenerate.sh --check   upgrade a scratch SQLite database to head and compare it with
#                                      tables.py (`alembic check`); exit 1 when they differ.
#   migrations/regenerate.sh           rewrite versions/0001_initial.py from tables.py, then check it.
#
# Rewriting 0001 is right only while no database in use holds it (before the first release). After
# that, a change to tables.py is a new revision:
#   .venv/bin/alembic revision --autogenerate -m "add x" --rev-id 0002_add_x
# and the same --check. Review what autogenerate writes: it does not see CHECK constraints nor
# server defaults changing. The test that keeps this honest on both databases is
# tests/integration/test_migrations.py.
set -euo pipefail

cd "$(dirname "$0")/.."
alembic=.venv/bin/alembic
[[ -x $alembic ]] || { echo "no $alembic: run 'make test' (or pip install -e '.[dev]') first" >&2; exit 1; }

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export AGENTKEEP_DATABASE_URL="sqlite:///$scratch/scratch.db"

check() {
    "$alembic" upgrade head >/dev/null 2>"$scratch/log" || { cat "$scratch/log" >&2; exit 1; }
    if "$alembic" check >"$scratch/log" 2>&1; then
        echo "migrations match tables.py"
    else
        grep -v '^INFO ' "$scratch/log" >&2
        echo "migrations differ from tables.py: run migrations/regenerate.sh (or add a revision)" >&2
        exit 1
    fi
}

case "${1:-}" in
--check)
    check
    ;;
"")
    revision=migrations/versions/0001_initial.py
    others=$(find migrations/versions -name '*.py' ! -name 0001_initial.py | head -n 1)
    if [[ -n $others ]]; then
        echo "refusing to rewrite 0001: later revisions exist ($others); add a revision instead" >&2
        exit 1
    fi
    rm -f "$revision"
    "$alembic" revision --autogenerate --rev-id 0001_initial \
        -m "The initial schema: users, agents, bios, profile metadata, sessions, system prompts, messages, memories." \
        >/dev/null 2>"$scratch/log" || { cat "$scratch/log" >&2; exit 1; }
    # Autogenerate's reminders, once the revision has been reviewed, are noise.
    sed -i '/# ### .*###$/d' "$revision"
    .venv/bin/ruff format --quiet "$revision"
    echo "wrote $revision; review it (git diff) before committing"
    rm -f "$scratch/scratch.db"
    check
    ;;
*)
    echo "usage: $0 [--check]" >&2
    exit 2
    ;;
esac
