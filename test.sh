#!/usr/bin/env bash
# Run every test. Uses the embedded default unless DATABASE_URL / REDIS_URL are set.
# Browser tests need Debian's Chromium at /usr/bin/chromium (apt-get install chromium).
set -euo pipefail
cd "$(dirname "$0")"

SETUP_SKIP_DATABASE=1 ./scripts/setup.sh   # tests build their own database
exec .venv/bin/python -m pytest "$@"
