#!/bin/sh
# /usr/bin/buildfleet-agent: runs the bundled agent with the Node.js named in
# /etc/sysconfig/buildfleet-agent (NODE=...), or `node` on PATH. On CentOS 7 the system has no
# Node >= 18 (glibc 2.17), so NODE points at a glibc-2.17 build; see docs/operations.md.
# The systemd unit loads the same file as EnvironmentFile=, so NODE is already set there.
if [ -z "${NODE:-}" ] && [ -r /etc/sysconfig/buildfleet-agent ]; then
  set -a
  . /etc/sysconfig/buildfleet-agent
  set +a
fi
# `exec` so the agent itself is the service's main process (SIGHUP/SIGTERM reach it directly).
# Two malloc arenas keep the daemon's memory near its live size (deploy/daemon-environment.ts
# says why); a MALLOC_ARENA_MAX set in the environment wins.
MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}"
export MALLOC_ARENA_MAX
exec "${NODE:-node}" /usr/libexec/buildfleet-agent/buildfleet-agent.mjs "$@"
