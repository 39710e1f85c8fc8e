#!/usr/bin/env bash
# Set up (first time) and run the bot: ./run.sh [opsbot arguments…]; default: run.
# Needs only Python 3.11+; dependencies go into ./.venv; migrations apply automatically.
set -euo pipefail
cd "$(dirname "$0")"
. ./.setup-venv.sh
# Bytecode for opsbot's own modules, as pip writes it for the libraries: with
# PYTHONDONTWRITEBYTECODE set (containers often set it) every start would otherwise compile
# ~130 modules again, 0.2 s of a 1 s start. Up-to-date files are skipped (~50 ms).
.venv/bin/python -m compileall -q bot handlers jobs >/dev/null
if [ $# -eq 0 ]; then set -- run; fi
exec .venv/bin/opsbot "$@"
