# Sourced by run.sh and test.sh: create ./.venv and install opsbot (editable) when needed.
PYTHON=${PYTHON:-python3}
want=".[${EXTRAS:-}]"
stamp=".venv/.installed-$(cat pyproject.toml | cksum | cut -d' ' -f1)-${EXTRAS:-none}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e "$want"
  rm -f .venv/.installed-*
  touch "$stamp"
fi
