#!/usr/bin/env bash
# Builds (or checks and reuses) the Debian rootfs that test/deploy/systemd-live.test.ts boots
# with systemd-nspawn, and prints its path. The rootfs lives OUTSIDE the repository and is
# shared by runs; the tests never write into it (they boot an overlay on top of it).
# Usage: .ci/systemd-rootfs.sh [ROOT]   (default $BUILDFLEET_SYSTEMD_ROOT or
#        /var/cache/buildfleet-agent-ci/bookworm-systemd)
# A rootfs is reused only when its stamp names this exact recipe AND systemd, systemctl,
# journalctl and dbus are really there and dpkg says installed; anything else is rebuilt from
# scratch: CI starts cold and a half-built or older tree must never be trusted.
set -euo pipefail
root=${1:-${BUILDFLEET_SYSTEMD_ROOT:-/var/cache/buildfleet-agent-ci/bookworm-systemd}}
suite=bookworm
# procps for /bin/kill, the unit's ExecReload= (on EL it comes with util-linux, always there;
# Debian's minbase has none).
include=systemd,systemd-sysv,dbus,procps
mirror=${BUILDFLEET_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# Changing any of these changes the stamp, so an old tree is rebuilt, not reused.
recipe="buildfleet-rootfs v1 debootstrap --variant=minbase --include=$include $suite $mirror"
stamp_name=.buildfleet-rootfs-stamp

log() { echo "systemd-rootfs: $*" >&2; }

# 0 when $1 is a finished rootfs built by this recipe with systemd and dbus installed.
usable() {
  local dir=$1
  [ -f "$dir/$stamp_name" ] || { log "$dir: no stamp"; return 1; }
  [ "$(head -n1 "$dir/$stamp_name")" = "$recipe" ] || { log "$dir: built by another recipe"; return 1; }
  local f
  for f in usr/lib/systemd/systemd usr/bin/systemctl usr/bin/journalctl usr/bin/dbus-daemon bin/kill sbin/init etc/os-release; do
    [ -e "$dir/$f" ] || { log "$dir: $f missing"; return 1; }
  done
  # dpkg's own record, read from the host (no chroot needed): both packages "install ok installed".
  local pkg
  for pkg in systemd systemd-sysv dbus procps; do
    dpkg-query --admindir="$dir/var/lib/dpkg" -W -f='${Status}' "$pkg" 2>/dev/null | grep -qx 'install ok installed' \
      || { log "$dir: package $pkg not installed"; return 1; }
  done
  return 0
}

[ "$(id -u)" = 0 ] || { log "needs root"; exit 2; }
command -v debootstrap >/dev/null || { log "debootstrap not found (Debian package: debootstrap)"; exit 2; }
mkdir -p "$(dirname "$root")"
# One builder at a time (CI's pre-build and a test run may race for it).
exec 9>"$root.lock"
flock 9

if usable "$root"; then
  log "reusing $root"
  echo "$root"
  exit 0
fi

log "building $root ($recipe)"
started=$(date +%s)
tmp="$root.build.$$"
rm -rf "$tmp"
trap 'rm -rf "$tmp"' EXIT
debootstrap --variant=minbase --include="$include" "$suite" "$tmp" "$mirror" >"$root.debootstrap.log" 2>&1 \
  || { tail -n 30 "$root.debootstrap.log" >&2; log "debootstrap failed (log: $root.debootstrap.log)"; exit 1; }
# Machine id is made at first boot; an empty file lets each (volatile) boot make its own.
: > "$tmp/etc/machine-id"
# No getty or network waiting in a test container: boot faster, quieter.
rm -f "$tmp/etc/systemd/system/getty.target.wants/"* 2>/dev/null || :
apt-get -qq clean -o RootDir="$tmp" 2>/dev/null || rm -rf "$tmp/var/cache/apt/archives/"*.deb
printf '%s\nbuilt %s in %ss\n' "$recipe" "$(date -u +%FT%TZ)" "$(( $(date +%s) - started ))" > "$tmp/$stamp_name"
usable "$tmp" || { log "the fresh tree fails its own check"; exit 1; }
rm -rf "$root"
mv "$tmp" "$root"
trap - EXIT
log "built $root in $(( $(date +%s) - started ))s"
echo "$root"
