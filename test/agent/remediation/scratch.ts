// Scratch cache directories for the quarantine and blobcache tests: real files in a fresh temp
// directory, a passwd file of our own (home directories inside the scratch dir), and the real
// verifier. Files that are clearly not a cache are written with bytes no format starts with.
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { verifyCacheFile } from '../../../checks/blobcache/verify.ts';
import { cacheFileNames, discoverCaches, type DiscoveredCache } from '../../../checks/blobcache/discover.ts';
import type { QuarantineDeps } from '../../../agent/remediation/quarantine.ts';

export interface Scratch {
  root: string;
  cacheDir: string; // plays root's /var/lib/containers/cache
  stateDir: string;
  passwd: string;
  bolt: string; // path of the bolt cache file in cacheDir
  sqlite: string;
  cleanup: () => void;
}

export function makeScratch(): Scratch {
  const root = mkdtempSync(path.join(tmpdir(), 'bfa-quarantine-'));
  const cacheDir = path.join(root, 'var/lib/containers/cache');
  mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
  const passwd = path.join(root, 'passwd');
  writeFileSync(passwd, 'root:x:0:0:root:/root:/bin/bash\n');
  return {
    root,
    cacheDir,
    stateDir: path.join(root, 'state'),
    passwd,
    bolt: path.join(cacheDir, cacheFileNames.boltdb),
    sqlite: path.join(cacheDir, cacheFileNames.sqlite),
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}

// Deterministic bytes that are neither bolt (no magic at offset 16) nor SQLite.
export function notACacheBytes(length = 8192, seed = 1): Buffer {
  const b = Buffer.alloc(length);
  let x = seed * 2654435761;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  b.write('this is not a cache', 0, 'latin1');
  return b;
}

export function writeCorrupt(p: string, seed = 1): void {
  writeFileSync(p, notACacheBytes(8192, seed));
}

export async function discoverScratch(s: Scratch, extra: { users?: boolean } = {}): Promise<DiscoveredCache[]> {
  return discoverCaches({
    dirs: [s.cacheDir],
    discoverUsers: extra.users ?? false,
    cacheFormatInUse: null,
    passwdPath: s.passwd,
  });
}

export function findCache(caches: readonly DiscoveredCache[], p: string): DiscoveredCache {
  const c = caches.find((x) => x.path === p);
  if (!c) throw new Error(`not discovered: ${p} (found ${caches.map((x) => x.path).join(', ')})`);
  return c;
}

export function depsFor(s: Scratch, over: Partial<QuarantineDeps> = {}): QuarantineDeps {
  return {
    verify: verifyCacheFile,
    stateDir: s.stateDir,
    actor: 'cli',
    skopeoVersion: '1.9.3',
    now: () => new Date('2026-11-28T10:15:00Z'),
    keep: 3,
    maxQuarantineBytes: 1 << 30,
    ...over,
  };
}

// A real bolt cache (built by bbolt 1.3.6 through test/boltref) with one leaf page overwritten:
// valid metas and a believable tree, damaged content. Returns null when it could not be built.
export async function writeDamagedBolt(p: string): Promise<string | null> {
  const { buildBoltDb, boltLayout } = await import('../../support/boltref.ts');
  const built = await buildBoltDb(p, { images: 5, trim: true, pageSize: 4096 });
  if (!built.ok) return built.error;
  const layout = boltLayout(p);
  if (layout instanceof Error) return layout.message;
  const leaf = layout.pages.find((x) => x.type === 'leaf');
  if (!leaf) return 'no leaf page';
  const bytes = readFileSync(p);
  bytes.fill(0xab, leaf.id * layout.pageSize + 16, (leaf.id + 1) * layout.pageSize);
  writeFileSync(p, bytes);
  return null;
}
