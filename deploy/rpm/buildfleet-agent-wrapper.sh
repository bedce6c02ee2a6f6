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
# The V8 flags keep the daemon's heap near its live size (deploy/node-flags.ts says why).
exec "${NODE:-node}" --max-semi-space-size=1 --optimize-for-size /usr/libexec/buildfleet-agent/buildfleet-agent.mjs "$@"
