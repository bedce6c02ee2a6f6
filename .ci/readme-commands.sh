#!/usr/bin/env bash
# Runs the README's commands as a new user types them, taken from README.md itself so the page
# cannot drift from what works: every line of the "Quick start" block in order (`npm start`
# until /healthz answers 200, then stopped), and the "Command line" section's checkout form
# with <verb> replaced by each verb of its table.
# Usage: .ci/readme-commands.sh            (from .ci/run, after the apt packages)
set -euo pipefail
cd "$(dirname "$0")/.."
readme=README.md
fail() { echo "readme-commands: $*" >&2; exit 1; }

quick_start=$(awk '/^## Quick start/{q=1; next} q && /^```sh/{f=1; next} f && /^```/{exit} f' "$readme")
[ -n "$quick_start" ] || fail "no \`\`\`sh block under '## Quick start' in $readme"

# `npm start` runs until stopped: wait for /healthz, then stop the whole process group. The
# default config writes /var/lib/buildfleet-agent; as root it runs in a private mount namespace
# with a tmpfs over that directory's deepest existing ancestor, so CI leaves nothing on the machine.
start_until_healthy() {
  local cmd=$1 port=20580 log pid i code=""
  log=$(mktemp)
  if curl -s -o /dev/null "http://127.0.0.1:$port/healthz"; then fail "port $port is already in use"; fi
  if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
    setsid unshare -m --propagation private sh -c '
      top=/var/lib/buildfleet-agent; while [ ! -d "$top" ]; do top=$(dirname "$top"); done
      mount -t tmpfs -o size=16m,mode=0755 readme-commands "$top" || exit 125
      exec sh -c "$1"' sh "$cmd" >"$log" 2>&1 &
  else
    setsid sh -c "$cmd" >"$log" 2>&1 &
  fi
  pid=$!
  for i in $(seq 1 60); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/healthz" || true)
    [ "$code" = 200 ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  kill -TERM -- "-$pid" 2>/dev/null || true
  for i in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL -- "-$pid"; cat "$log" >&2; fail "'$cmd' did not stop within 10 s of SIGTERM"; fi
  if [ "$code" != 200 ]; then cat "$log" >&2; fail "'$cmd': /healthz never answered 200 (last: ${code:-no answer})"; fi
  echo "readme-commands: '$cmd' served /healthz 200 on :$port and stopped on SIGTERM"
  rm -f "$log"
}

while IFS= read -r line; do
  cmd=$(printf '%s' "${line%%#*}" | sed 's/[[:space:]]*$//')
  [ -n "$cmd" ] || continue
  echo "readme-commands: \$ $cmd"
  case "$cmd" in
    "npm start") start_until_healthy "$cmd" ;;
    *) bash -c "$cmd" ;;
  esac
done <<<"$quick_start"

# "`npm run -s cli -- <verb> --help` in a checkout": each verb of the table, as written.
cli_form=$(awk '/^## Command line/{c=1; next} c && /<verb>/{print; exit}' "$readme" | grep -o '`[^`]*<verb>[^`]*`' | head -1 | tr -d '`')
[ -n "$cli_form" ] || fail "no command with <verb> under '## Command line' in $readme"
verbs=$(awk '/^## Command line/{c=1; next} c && /^## /{exit} c && /^\| `/' "$readme" | sed -E 's/^\| `([a-z-]+( [a-z-]+)?).*/\1/')
[ -n "$verbs" ] || fail "no verbs in the table under '## Command line' in $readme"
n=0
while IFS= read -r verb; do
  out=$(bash -c "${cli_form//<verb>/$verb}" 2>&1) || fail "'${cli_form//<verb>/$verb}' failed: $out"
  printf '%s\n' "$out" | head -1 | grep -q . || fail "'${cli_form//<verb>/$verb}' printed nothing"
  n=$((n + 1))
done <<<"$verbs"
echo "readme-commands: '$cli_form' works for all $n verbs of the table"
