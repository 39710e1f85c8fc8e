# Sourced by run.sh and test.sh: create ./.venv and install opsbot (editable) with its test
# extras, once per change of pyproject.toml. One environment serves both commands, so any order
# of ./run.sh, ./test.sh and ./run.sh demo installs at most once (decision 35).
PYTHON=${PYTHON:-python3}
stamp=".venv/.installed-$(cksum < pyproject.toml | cut -d' ' -f1)"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
if [ ! -f "$stamp" ]; then
  echo "Setting up .venv (first run, or pyproject.toml changed) …" >&2
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
  rm -f .venv/.installed-*
  touch "$stamp"
fi
