#!/usr/bin/env bash
# Builds dist/secrethub-<target> with `deno compile`. deno compile needs a "denort" runtime for
# each target, which it normally downloads; offline, point DENORT_BIN at a denort binary for the
# target (one target per run then: TARGETS=x86_64-unknown-linux-gnu DENORT_BIN=/path/denort).
set -euo pipefail
cd "$(dirname "$0")"
TARGETS=${TARGETS:-"x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu"}
# The server needs network, files under its storage dir, env (config overrides), FFI + sys for
# the libSQL native addon, and run for nothing: no --allow-run.
PERMS=(--allow-net --allow-read --allow-write --allow-env --allow-ffi --allow-sys)
mkdir -p dist
status=0
for t in $TARGETS; do
  out="dist/secrethub-$t"
  log=$(mktemp)
  if deno compile "${PERMS[@]}" --target "$t" --output "$out" main.ts >"$log" 2>&1; then
    echo "built $out"
  else
    if grep -qiE "denort|download|dns|connect|network|error sending request" "$log"; then
      echo "compile.sh: cannot build $t: deno compile could not download the denort runtime (no internet); set DENORT_BIN=/path/to/denort for $t" >&2
    else
      cat "$log" >&2
    fi
    status=1
  fi
  rm -f "$log"
done
exit $status
