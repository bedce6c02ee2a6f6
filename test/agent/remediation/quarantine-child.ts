// Child process for the crash test: quarantines one cache and SIGKILLs itself right after the
// step named in its argument, the way a power cut or an OOM kill would stop the agent.
import { discoverCaches } from '../../../checks/blobcache/discover.ts';
import { verifyCacheFile } from '../../../checks/blobcache/verify.ts';
import { assessCache, quarantineCache, type QuarantineStep } from '../../../agent/remediation/quarantine.ts';

const { cacheDir, stateDir, passwd, file, killAt } = JSON.parse(process.argv[2]) as {
  cacheDir: string;
  stateDir: string;
  passwd: string;
  file: string;
  killAt: QuarantineStep;
};
const caches = await discoverCaches({
  dirs: [cacheDir],
  discoverUsers: false,
  cacheFormatInUse: null,
  passwdPath: passwd,
});
const cache = caches.find((c) => c.path === file);
if (!cache) throw new Error(`${file} not discovered`);
const deps = {
  verify: verifyCacheFile,
  stateDir,
  actor: 'cli' as const,
  skopeoVersion: '1.9.3',
  now: () => new Date(),
  keep: 3,
  maxQuarantineBytes: 1 << 30,
  afterStep: (step: QuarantineStep) => {
    if (step === killAt) process.kill(process.pid, 'SIGKILL');
  },
};
const outcome = await quarantineCache(await assessCache(cache, deps), deps);
process.stdout.write(`${JSON.stringify(outcome)}\n`);
