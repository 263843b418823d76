#!/usr/bin/env bash
# Submit a raygraph program to the running Ray cluster as a job and follow its logs.
#   usage: bash cluster/submit.sh examples/train_digits.py [args...]
set -euo pipefail
export RAY_AUTH_MODE="${RAY_AUTH_MODE:-token}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
exec ray job submit --working-dir . -- python "$@"
