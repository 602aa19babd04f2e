#!/usr/bin/env bash
# Starts a tickwheel node (src/main.ts) after making sure Bun, redis-server and node_modules are
# there. Without REDIS_URL the node starts its own redis-server (src/node/embedded-redis.ts).
# Arguments are passed through to the node.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/setup.sh
source scripts/setup.sh
exec bun src/main.ts "$@"
