#!/usr/bin/env bash
# Builds the noarch RPM from the esbuild bundle with a throw-away rpmbuild _topdir.
# Usage: deploy/rpm/build-rpm.sh [--bundle FILE] [--out DIR]
#   --bundle  an already built bundle (default: build one into dist/)
#   --out     where the .rpm goes (default: dist/); its path is printed on stdout
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bundle=""
out="$root/dist"
while [ $# -gt 0 ]; do
  case "$1" in
    --bundle) bundle=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
    *) echo "build-rpm: unknown argument $1" >&2; exit 2 ;;
  esac
done
command -v rpmbuild >/dev/null || { echo "build-rpm: rpmbuild not found (Debian package: rpm)" >&2; exit 2; }
# The project's Node 22 first: npm exports NODE as the Node it runs on (the system's 20 on
# these machines), which cannot load the TypeScript bundle builder. BUILDFLEET_NODE overrides.
node=${BUILDFLEET_NODE:-$root/node_modules/.bin/node}
[ -x "$node" ] || node=$(command -v node || true)
[ -n "$node" ] || { echo "build-rpm: no node found (run npm ci first)" >&2; exit 2; }
"$node" -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>22||(a===22&&b>=13)?0:1)' ||
  { echo "build-rpm: $node is Node.js $("$node" -p process.versions.node); the build needs >= 22.13 (npm ci brings it)" >&2; exit 2; }
if [ -z "$bundle" ]; then
  "$node" "$root/deploy/build-bundle.ts" >&2
  bundle=$root/dist/buildfleet-agent.mjs
fi
[ -f "$bundle" ] || { echo "build-rpm: no bundle at $bundle" >&2; exit 2; }
# RPM versions cannot hold '-': a prerelease 1.2.0-rc.1 becomes 1.2.0~rc.1 (sorts before 1.2.0).
version=$("$node" -p 'require(process.argv[1]).version' "$root/package.json" | tr '-' '~')

top=$(mktemp -d "${TMPDIR:-/tmp}/buildfleet-rpm.XXXXXX")
trap 'rm -rf "$top"' EXIT
mkdir -p "$top"/{SOURCES,SPECS,BUILD,BUILDROOT,RPMS,SRPMS} "$out"
src=$top/SOURCES
cp "$bundle" "$src/buildfleet-agent.mjs"
cp "$here/buildfleet-agent-wrapper.sh" "$root/deploy/scheduler/preflight-gate.sh" "$src/"
cp "$root/deploy/systemd/buildfleet-agent.service" "$root/deploy/systemd/el7-compat.conf" "$src/"
cp "$root/deploy/config/config.yaml" "$src/"
cp "$root/deploy/sysconfig/buildfleet-agent" "$src/buildfleet-agent.sysconfig"
cp "$root/LICENSE" "$root/docs/operations.md" "$root/docs/alerts.md" "$src/"
# Rules, their tests and the dashboard go to /usr/share/buildfleet-agent for the monitoring side.
tar -C "$root/deploy" -cf "$src/prometheus.tar" --owner=0 --group=0 prometheus
tar -C "$root/deploy" -cf "$src/grafana.tar" --owner=0 --group=0 grafana

rpmbuild -bb --quiet \
  --define "_topdir $top" \
  --define "pkg_version $version" \
  ${BUILDFLEET_RPM_RELEASE:+--define "pkg_release $BUILDFLEET_RPM_RELEASE"} \
  "$here/buildfleet-agent.spec" >&2
for rpm in "$top"/RPMS/noarch/*.rpm; do
  cp "$rpm" "$out/"
  echo "$out/$(basename "$rpm")"
done
