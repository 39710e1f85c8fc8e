#!/usr/bin/env bash
# Set up (first time) and run the bot: ./run.sh [opsbot arguments…]; default: run.
# Needs only Python 3.11+; dependencies go into ./.venv; migrations apply automatically.
set -euo pipefail
cd "$(dirname "$0")"
. ./.setup-venv.sh
if [ $# -eq 0 ]; then set -- run; fi
exec .venv/bin/opsbot "$@"
