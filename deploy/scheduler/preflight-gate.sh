#!/bin/sh
# preflight-gate.sh: may this host take a build now? Asks the local buildfleet-agent
# (GET /v1/preflight) and exits 0 when it may, non-zero with the reasons on stderr when it must
# not. Meant as the first line of a build script:
#
#     buildfleet-preflight-gate || exit 1     (the RPM installs it as /usr/bin/buildfleet-preflight-gate)
#
# Needs only POSIX sh and curl; uses jq when installed to print each reason's message too.
#
# Options (each also settable by the environment variable in brackets; options win):
#   --url URL             the agent                         [BUILDFLEET_AGENT_URL, http://127.0.0.1:20580]
#   --timeout SECONDS     whole request, connect included   [BUILDFLEET_GATE_TIMEOUT, 10]
#   --max-age SECONDS     re-run checks older than this first (their run counts against the timeout)
#                                                           [BUILDFLEET_GATE_MAX_AGE, unset: last results]
#   --degraded POLICY     allow | refuse: only shared checks (a registry) fail
#                                                           [BUILDFLEET_GATE_DEGRADED, allow (with a warning)]
#   --agent-down POLICY   fail-closed | fail-open: the agent cannot be asked or answers nonsense
#                                                           [BUILDFLEET_GATE_AGENT_DOWN, fail-closed]
#   --cacert FILE         trust this CA for an https:// URL      [BUILDFLEET_GATE_CACERT, the system's CAs]
#   --cert FILE           client certificate, when the agent sets tls.clientCAFile
#                                                           [BUILDFLEET_GATE_CERT, none]
#   --key FILE            its key                           [BUILDFLEET_GATE_KEY, none]
#   --quiet               print nothing when the host may build
#
# Exit codes: 0 build (accept; degraded with --degraded allow; agent down with --agent-down
# fail-open); 1 refuse; 2 usage error; 3 degraded with --degraded refuse; 4 the agent could not
# be asked (fail-closed, the default). The agent's own table (docs/conventions.md).
set -u

me=preflight-gate
url=${BUILDFLEET_AGENT_URL:-http://127.0.0.1:20580}
timeout=${BUILDFLEET_GATE_TIMEOUT:-10}
max_age=${BUILDFLEET_GATE_MAX_AGE:-}
degraded=${BUILDFLEET_GATE_DEGRADED:-allow}
agent_down=${BUILDFLEET_GATE_AGENT_DOWN:-fail-closed}
jq=${BUILDFLEET_GATE_JQ:-jq} # "none": never use jq (the fallback is tested this way)
cacert=${BUILDFLEET_GATE_CACERT:-}
cert=${BUILDFLEET_GATE_CERT:-}
key=${BUILDFLEET_GATE_KEY:-}
quiet=0

say() { printf '%s: %s\n' "$me" "$*" >&2; }
usage() { say "$*"; say "usage: $me [--url URL] [--timeout S] [--max-age S] [--degraded allow|refuse] [--agent-down fail-closed|fail-open] [--cacert FILE] [--cert FILE --key FILE] [--quiet]"; exit 2; }
is_number() { case $1 in ''|.|*[!0-9.]*|*.*.*) return 1 ;; *) return 0 ;; esac; }

while [ $# -gt 0 ]; do
  case $1 in
    --url) [ $# -ge 2 ] || usage "--url needs a value"; url=$2; shift 2 ;;
    --timeout) [ $# -ge 2 ] || usage "--timeout needs a value"; timeout=$2; shift 2 ;;
    --max-age) [ $# -ge 2 ] || usage "--max-age needs a value"; max_age=$2; shift 2 ;;
    --degraded) [ $# -ge 2 ] || usage "--degraded needs a value"; degraded=$2; shift 2 ;;
    --agent-down) [ $# -ge 2 ] || usage "--agent-down needs a value"; agent_down=$2; shift 2 ;;
    --cacert) [ $# -ge 2 ] || usage "--cacert needs a value"; cacert=$2; shift 2 ;;
    --cert) [ $# -ge 2 ] || usage "--cert needs a value"; cert=$2; shift 2 ;;
    --key) [ $# -ge 2 ] || usage "--key needs a value"; key=$2; shift 2 ;;
    --quiet) quiet=1; shift ;;
    -h|--help) sed -n '2,/^set -u/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
    *) usage "unknown argument: $1" ;;
  esac
done
is_number "$timeout" || usage "--timeout must be a number of seconds, not \"$timeout\""
[ -z "$max_age" ] || is_number "$max_age" || usage "--max-age must be a number of seconds, not \"$max_age\""
case $degraded in allow|refuse) ;; *) usage "--degraded must be allow or refuse, not \"$degraded\"" ;; esac
case $agent_down in fail-closed|fail-open) ;; *) usage "--agent-down must be fail-closed or fail-open, not \"$agent_down\"" ;; esac
[ "$jq" = none ] || command -v "$jq" >/dev/null 2>&1 || jq=none
for f in "$cacert" "$cert" "$key"; do
  [ -z "$f" ] || [ -r "$f" ] || usage "cannot read \"$f\""
done
[ -z "$cert" ] || [ -n "$key" ] || usage "--cert needs --key"
[ -z "$key" ] || [ -n "$cert" ] || usage "--key needs --cert"

# The agent could not be asked, or what answered was not an agent: the policy decides.
agent_is_down() {
  if [ "$agent_down" = fail-open ]; then
    say "WARNING: cannot ask the agent at $url ($*); building anyway (--agent-down fail-open)"
    exit 0
  fi
  say "cannot ask the agent at $url ($*); not building (--agent-down fail-closed)"
  exit 4
}
command -v curl >/dev/null 2>&1 || agent_is_down "curl is not installed"

body=$(mktemp "${TMPDIR:-/tmp}/preflight-gate.XXXXXX") || agent_is_down "cannot create a temporary file"
errors=$(mktemp "${TMPDIR:-/tmp}/preflight-gate.XXXXXX") || { rm -f "$body"; agent_is_down "cannot create a temporary file"; }
trap 'rm -f "$body" "$errors"' EXIT
trap 'exit 2' INT TERM

query=
[ -z "$max_age" ] || query="?max_age=$max_age"
# The TLS options as positional parameters: POSIX sh has no arrays, and paths may hold spaces.
set --
[ -z "$cacert" ] || set -- "$@" --cacert "$cacert"
[ -z "$cert" ] || set -- "$@" --cert "$cert" --key "$key"
status=$(curl -sS --max-time "$timeout" --connect-timeout "$timeout" -H 'Accept: application/json' "$@" \
  -o "$body" -w '%{http_code}' "${url%/}/v1/preflight$query" 2>"$errors")
curl_rc=$?
if [ "$curl_rc" -ne 0 ]; then
  agent_is_down "$(head -c 300 "$errors" | tr '\n' ' ' | sed 's/ *$//')"
fi

# One line per reason: "check: code: message" (with jq), "check: code" without.
print_reasons() {
  if [ "$jq" != none ]; then
    "$jq" -r '.reasons[]? | "  \(.check): \(.code): \(.message)"' "$body" >&2 2>/dev/null && return
  fi
  grep -o '"check":"[^"]*","code":"[^"]*"' "$body" | sed 's/^"check":"\([^"]*\)","code":"\([^"]*\)"$/  \1: \2/' >&2
}
decision_in_body() { grep -q "\"decision\":\"$1\"" "$body"; }

case $status in
  200)
    decision_in_body accept || agent_is_down "HTTP 200 without decision accept: not a buildfleet-agent answer"
    [ "$quiet" = 1 ] || say "accept: this host may build"
    exit 0 ;;
  429)
    decision_in_body degraded || agent_is_down "HTTP 429 without decision degraded: not a buildfleet-agent answer"
    if [ "$degraded" = refuse ]; then
      say "degraded: a shared dependency fails; not building (--degraded refuse):"
      print_reasons
      exit 3
    fi
    say "WARNING: degraded: a shared dependency fails; building anyway (--degraded allow):"
    print_reasons
    exit 0 ;;
  503)
    decision_in_body refuse || agent_is_down "HTTP 503 without decision refuse: not a buildfleet-agent answer"
    say "refuse: this host must not build now:"
    print_reasons
    exit 1 ;;
  *)
    agent_is_down "HTTP $status from /v1/preflight" ;;
esac
