# Shared by scripts/try-it and scripts/test: create the virtual environment and install.
# Sourced, not run. Needs only Python >= 3.11 with venv (a fresh machine has nothing else).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MCM_SYNC_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
  echo "creating virtual environment in $VENV" >&2
  "$PYTHON" -m venv "$VENV"
fi
# Quiet unless it fails; re-running is cheap when everything is installed.
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >/dev/null
TARGET="$ROOT"; [ -n "${EXTRAS:-}" ] && TARGET="$ROOT[$EXTRAS]"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$TARGET"
# pip compiles what it installs from a wheel (its default), but an editable install leaves our
# own modules as sources: compile them now, or every run compiles them again where
# PYTHONDONTWRITEBYTECODE is set (bench/bench_startup.py measures both).
"$VENV/bin/python" -m compileall -q "$ROOT/sync" "$ROOT/connectors" "$ROOT/playbooks" >/dev/null
export PATH="$VENV/bin:$PATH"
# The SDKs read proxy variables and ignore NO_PROXY (slack_sdk): the sandbox is on loopback.
unset HTTP_PROXY HTTPS_PROXY http_proxy https_proxy ALL_PROXY all_proxy
