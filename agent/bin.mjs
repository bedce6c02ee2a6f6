#!/usr/bin/env node
/* global process */
// Entry point of the `buildfleet-agent` command, in the checkout and (bundled) on hosts. Plain
// JavaScript, so that a Node.js that cannot run the agent (Node 20 cannot even load a .ts
// file; older 22s have no node:sqlite) gets one line and exit 2 before anything runs, instead of
// an agent that starts and then judges every cache unreadable. agent/bin.ts is loaded after.
import { currentRuntime, runtimeProblem } from './runtime-requirements.mjs';

const problem = runtimeProblem(currentRuntime());
if (problem !== null) {
  process.stderr.write(`buildfleet-agent: ${problem}\n`);
  process.exit(2);
}
try {
  await import('./bin.ts');
} catch (err) {
  // A 22 before type stripping (22.18) in a checkout: the bundle, or `npm run cli`, works.
  if (err?.code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw err;
  process.stderr.write(
    `buildfleet-agent: Node.js ${process.version} cannot run the TypeScript sources of a checkout (type stripping needs >= 22.18); use npm run cli or the bundle\n`,
  );
  process.exit(2);
}
