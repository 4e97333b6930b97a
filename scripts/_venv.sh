# Sourced by scripts/serve and scripts/test: make .venv with Python >= 3.11 and install the project.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

find_python() {
  for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$candidate"
      return 0
    fi
  done
  echo "LittleWriter needs Python 3.11 or newer (set PYTHON=/path/to/python3.11)." >&2
  return 1
}

# Installs from the locked, hashed requirements (requirements/README.md): nothing is resolved or
# fetched outside them, the project itself included (--no-deps --no-build-isolation).
# `main`: what the service needs to run; `dev`: that and the tools to test and check it (a dev
# setup serves too). A long first run says what it is doing.
ensure_venv() {
  local extras="$1"
  if up_to_date "$extras" || { [ "$extras" = main ] && up_to_date dev; }; then
    return 0
  fi
  echo "littlewriter: setting up .venv with the $extras requirements (the first time takes a minute or two) ..." >&2
  if [ ! -x .venv/bin/python ]; then
    "$(find_python)" -m venv .venv
  fi
  .venv/bin/python -m pip install --quiet --require-hashes -r requirements/build.txt
  .venv/bin/python -m pip install --quiet --require-hashes -r "requirements/$extras.txt"
  .venv/bin/python -m pip install --quiet --no-deps --no-build-isolation -e .
  touch ".venv/.installed-$extras"
  echo "littlewriter: .venv is ready." >&2
}

up_to_date() {
  local stamp=".venv/.installed-$1"
  [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ ! pyproject.toml -nt "$stamp" ] &&
    [ ! "requirements/$1.txt" -nt "$stamp" ]
}
