#!/usr/bin/env bash
# Builds dist/secrethub-<target> with `deno compile`. deno compile needs a "denort" runtime for
# each target, which it normally downloads; offline, point DENORT_BIN at a denort binary for the
# target (one target per run then: TARGETS=x86_64-unknown-linux-gnu DENORT_BIN=/path/denort).
set -euo pipefail
cd "$(dirname "$0")"
TARGETS=${TARGETS:-"x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu"}
# The server needs network, files under its storage dir, env (config overrides), FFI + sys for
# the libSQL native addon. The agent also runs programs: template reload commands and the child
# of `agent exec` (argv arrays, never a shell), hence --allow-run.
PERMS=(--allow-net --allow-read --allow-write --allow-env --allow-ffi --allow-sys --allow-run)
# Worker modules are outside the static module graph: deno compile embeds them only when named
# (tests/unit/compile_script_test.ts checks that every worker the code starts is listed here).
INCLUDES=(--include core/storage/libsql_writer.ts --include core/storage/libsql_checkpointer.ts)
mkdir -p dist
status=0
for t in $TARGETS; do
  out="dist/secrethub-$t"
  log=$(mktemp)
  if deno compile "${PERMS[@]}" "${INCLUDES[@]}" --target "$t" --output "$out" main.ts >"$log" 2>&1; then
    # A DENORT_BIN that is not a denort (e.g. the full deno CLI) yields a binary that ignores its
    # embedded program; catch that here instead of shipping it.
    host="$(uname -m)-unknown-linux-gnu"
    if [ "$t" = "$host" ] && ! "./$out" version 2>/dev/null | grep -q SecretHub; then
      echo "compile.sh: $out does not run the embedded program; is DENORT_BIN a denort runtime for $t?" >&2
      rm -f "$out"
      status=1
    else
      echo "built $out"
    fi
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
