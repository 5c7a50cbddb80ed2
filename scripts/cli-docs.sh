#!/usr/bin/env bash
# Regenerates docs/user/cli.md from the `tidegate` binary's own --help: the top-level help and
# that of every subcommand it lists. The `## tidegated` section and everything after it is
# hand-written and kept as it is.
#   scripts/cli-docs.sh [path/to/tidegate]     (default: build/debug/src/exe/tidegate)
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-build/debug/src/exe/tidegate}"
doc=docs/user/cli.md
[ -x "$bin" ] || { echo "cli-docs.sh: $bin is not built (cmake --build ... --target tidegate)" >&2; exit 2; }
# argv[0] "tidegate", so that the usage lines read as a user types them.
run() { (exec -a tidegate "$bin" "$@"); }
tail_part="$(sed -n '/^## tidegated$/,$p' "$doc")"
subcommands="$(run --help | sed -n '/^Subcommands:/,$p' | awk 'NR > 1 && NF {print $1}')"
{
  cat <<'HEAD'
# Command-line reference

Generated from the binaries' own `--help` (`scripts/cli-docs.sh`). These contracts are stable:
outside tools call them. Exit codes: 0 success, 1 an error (the message names the file, line and
field), 2 a usage error.

## tidegate

```
HEAD
  run --help
  printf '```\n'
  for cmd in $subcommands; do
    printf '\n## tidegate %s\n\n```\n' "$cmd"
    run "$cmd" --help
    printf '```\n'
  done
  printf '\n%s\n' "$tail_part"
} > "$doc.tmp"
mv "$doc.tmp" "$doc"
echo "cli-docs.sh: wrote $doc ($(echo $subcommands | wc -w) subcommands)"
