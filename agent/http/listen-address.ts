// Moved to lib/listen-address.ts (the config parses the address, the server listens on it, and
// config must not import http/). Only agent/daemon.ts still imports this path; it is being split
// by another change, which should import lib/listen-address.ts and delete this file.
export * from '../../lib/listen-address.ts';
