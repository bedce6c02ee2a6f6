/* global process */
// What this agent needs from Node.js, in plain JavaScript so that any Node.js can evaluate it
// (a .ts file cannot even be loaded by Node 20). Pure: the runtime's facts in, one line out.

// node:sqlite without a flag, and the 22 line the agent is built and tested on.
export const minimumNodeVersion = '22.13.0';

function older(version, minimum) {
  const a = version
    .replace(/^v/, '')
    .split('.')
    .map((n) => Number.parseInt(n, 10) || 0);
  const b = minimum.split('.').map((n) => Number(n));
  for (let i = 0; i < 3; i++) {
    if ((a[i] ?? 0) !== b[i]) return (a[i] ?? 0) < b[i];
  }
  return false;
}

// null when the runtime will do; otherwise the one line to print before exiting 2.
export function runtimeProblem({ version, hasSqlite }) {
  if (older(version, minimumNodeVersion)) {
    return `Node.js ${version} is too old: buildfleet-agent needs Node.js >= ${minimumNodeVersion} (node:sqlite); run it with the Node.js 22 that npm ci installs (npm run cli) or the RPM's`;
  }
  if (!hasSqlite) {
    return `Node.js ${version} has no node:sqlite (a build without it, or run with --no-experimental-sqlite): buildfleet-agent cannot verify SQLite caches without it`;
  }
  return null;
}

// The facts of the running process; getBuiltinModule returns undefined for a missing module.
export function currentRuntime() {
  let hasSqlite;
  try {
    hasSqlite = typeof process.getBuiltinModule === 'function' && process.getBuiltinModule('node:sqlite') !== undefined;
  } catch {
    hasSqlite = false;
  }
  return { version: process.version, hasSqlite };
}
