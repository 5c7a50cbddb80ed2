#!/usr/bin/env bash
# Regenerates docs/user/cli.md from the `tidegate` binary's own --help (every subcommand, in the
# order `tidegate --help` lists them). The introduction and the hand-written `## tidegated` section
# at the end are kept as they are.
#   scripts/cli-reference.sh [path/to/tidegate]     (default: build/debug/src/exe/tidegate)
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-build/debug/src/exe/tidegate}"
doc=docs/user/cli.md
[ -x "$bin" ] || { echo "cli-reference.sh: no binary at $bin (build the 'tidegate' target)" >&2; exit 2; }
# Run it by name so that the usage lines read "tidegate …", not the build path.
PATH="$(cd "$(dirname "$bin")" && pwd):$PATH"
bin=tidegate
intro=$(sed '/^## tidegate$/,$d' "$doc")
daemon=$(sed -n '/^## tidegated$/,$p' "$doc")
subcommands=$("$bin" --help | sed -n '/^Subcommands:/,$p' | awk 'NR > 1 && NF { print $1 }')
{
  printf '%s\n\n## tidegate\n\n```\n' "$intro"
  "$bin" --help
  printf '```\n'
  for sub in $subcommands; do
    printf '\n## tidegate %s\n\n```\n' "$sub"
    "$bin" "$sub" --help
    printf '```\n'
  done
  printf '\n%s\n' "$daemon"
} > "$doc.tmp"
mv "$doc.tmp" "$doc"
