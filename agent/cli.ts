// The CLI dispatcher: finds the verb (one or two words) and hands the remaining arguments to
// its module in agent/cli/. Each verb module exports `help` (its --help text) and
// `run(args) -> exit code`; verbs are loaded lazily so `check` never pays for `serve`.
import { exitCodes } from '../lib/exit-codes.ts';

export interface VerbModule {
  help: string;
  run: (args: string[]) => Promise<number>;
}

type VerbLoader = () => Promise<VerbModule>;

// The verbs that exist, by name as typed. Adding a verb is one line here and one file.
const verbs: Record<string, { summary: string; load: VerbLoader }> = {
  'cache check': {
    summary: 'verify blob-info cache files (bolt or SQLite, from content)',
    load: () => import('./cli/cache-check.ts'),
  },
  check: { summary: 'run every check once and print the admission decision', load: () => import('./cli/check.ts') },
  'fleet status': {
    summary: 'ask many agents at once: decision, failing checks, age; file_sd output',
    load: () => import('./cli/fleet-status.ts'),
  },
  'config check': {
    summary: 'validate a config file and print the effective config',
    load: () => import('./cli/config-check.ts'),
  },
  'cache inspect': {
    summary: 'show buckets/tables, key counts and what each holds',
    load: () => import('./cli/cache-inspect.ts'),
  },
  'cache quarantine': {
    summary: 'move confirmed corrupt caches aside safely (audited)',
    load: () => import('./cli/cache-quarantine.ts'),
  },
  'systemd-dropin': {
    summary: 'print the systemd drop-in making cache directories outside /home writable',
    load: () => import('./cli/systemd-dropin.ts'),
  },
  serve: {
    summary: 'run the daemon: schedule the checks, serve HTTP and metrics',
    load: () => import('./cli/serve.ts'),
  },
  version: { summary: 'print the agent and Node.js versions', load: () => import('./cli/version.ts') },
};

function topHelp(): string {
  const width = Math.max(...Object.keys(verbs).map((v) => v.length));
  const lines = Object.entries(verbs).map(([name, v]) => `  ${name.padEnd(width)}  ${v.summary}`);
  return [
    'Usage: buildfleet-agent <verb> [options]',
    '',
    'Verbs:',
    ...lines,
    '',
    'Run `buildfleet-agent <verb> --help` for the options of a verb.',
    '',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [first, second] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    process.stdout.write(topHelp());
    return first === undefined ? exitCodes.usage : exitCodes.ok;
  }
  if (first === '--version') argv = ['version', ...argv.slice(1)];
  const two = `${argv[0]} ${second ?? ''}`;
  const name = verbs[two] ? two : argv[0];
  const verb = verbs[name];
  if (!verb) {
    process.stderr.write(`buildfleet-agent: unknown verb "${argv.slice(0, 2).join(' ')}"\n\n${topHelp()}`);
    return exitCodes.usage;
  }
  const rest = argv.slice(name.split(' ').length);
  const mod = await verb.load();
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(mod.help.endsWith('\n') ? mod.help : `${mod.help}\n`);
    return exitCodes.ok;
  }
  return mod.run(rest);
}
