// The agent proper, loaded by agent/bin.mjs once the runtime is known to be good enough.
import { main } from './cli.ts';

// node:sqlite still prints an ExperimentalWarning on every 22.x; it is noise on an operator's
// terminal and in the journal. Every other warning is still printed.
process.removeAllListeners('warning');
process.on('warning', (w) => {
  if (w.name === 'ExperimentalWarning' && /SQLite/i.test(w.message)) return;
  process.stderr.write(`${w.name}: ${w.message}\n`);
});

process.exitCode = await main(process.argv.slice(2));
