#!/bin/sh
# Points every runbook_url of the alert rules (and of their unit tests, which expect the same
# annotations) at another copy of docs/alerts.md: a wiki page, an internal docs host.
#   deploy/prometheus/set-runbook-base.sh https://wiki.example.com/buildfleet/alerts rules/*.yml tests/*.yml
# Each runbook_url is BASE#anchor, the anchor being the alert's name in lower case (the headings
# of docs/alerts.md). Edits the files in place; run it on your copies.
set -eu
usage="usage: $0 BASE-URL FILE..."
[ "$#" -ge 2 ] || { echo "$usage" >&2; exit 2; }
base=$1
shift
# No characters that would end the quoted YAML value, start the anchor, or mean something to sed.
case "$base" in
  http://*|https://*) ;;
  *) echo "$0: BASE-URL must start with http:// or https://: $base" >&2; exit 2 ;;
esac
case "$base" in
  *[\'\ \#\|\&\\]*) echo "$0: BASE-URL must not contain quotes, spaces, #, |, & or backslashes: $base" >&2; exit 2 ;;
esac
for f in "$@"; do
  [ -f "$f" ] || { echo "$0: not a file: $f" >&2; exit 2; }
done
for f in "$@"; do
  sed -i -E "s|^( *runbook_url: ')[^'#]*#|\\1$base#|" "$f"
done
