#!/usr/bin/env bash
# Set up (first time) and run the whole test suite: lint, then pytest on SQLite and PostgreSQL.
# PostgreSQL tests use $OPSBOT_TEST_DATABASE_URL or postgres@127.0.0.1:5432 and skip, saying
# why, when no server answers. Tests run in parallel, one worker per core (pytest-xdist; add
# -n 0 to run in this process, e.g. to debug). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
. ./.setup-venv.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
exec .venv/bin/pytest -n auto --dist worksteal "$@"
