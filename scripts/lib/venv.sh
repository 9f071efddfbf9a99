# Sourced by scripts/demo and scripts/test: find Python 3.10, create or update .venv, install.
# Idempotent: reinstalls only when pyproject.toml changed since the last successful install.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/.venv"

find_python310() {
    local candidate
    for candidate in "${PYTHON310:-}" "$(command -v python3.10 2>/dev/null || true)" \
        "$HOME"/.pyenv/versions/3.10*/bin/python3.10; do
        if [ -n "$candidate" ] && [ -x "$candidate" ] \
            && "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

ensure_venv() {
    if [ ! -x "$VENV/bin/python" ] \
        || ! "$VENV/bin/python" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then
        local python
        if ! python="$(find_python310)"; then
            echo "error: Python 3.10 is required (cairo-lang's Cairo VM does not run on 3.11+)." >&2
            echo "  Install it with 'pyenv install 3.10' or your package manager (python3.10)," >&2
            echo "  or point PYTHON310 at a python3.10 binary." >&2
            exit 1
        fi
        echo "setup: creating .venv with $python" >&2
        rm -rf "$VENV"
        "$python" -m venv "$VENV"
    fi
    local stamp="$VENV/.installed-$(sha256sum "$ROOT/pyproject.toml" | cut -c1-16)"
    if [ ! -f "$stamp" ]; then
        echo "setup: installing dependencies into .venv (first run takes a few minutes)" >&2
        "$VENV/bin/python" -m pip install -qq --upgrade pip
        "$VENV/bin/python" -m pip install -qq -e "$ROOT[dev]"
        rm -f "$VENV"/.installed-*
        touch "$stamp"
    fi
}

ensure_venv
export PATH="$VENV/bin:$PATH"
cd "$ROOT"
