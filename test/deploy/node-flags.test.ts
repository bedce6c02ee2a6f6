import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { daemonNodeFlags } from '../../deploy/node-flags.ts';

const root = join(import.meta.dirname, '../..');
const flags = daemonNodeFlags.join(' ');

describe('the daemon runs with the same V8 flags everywhere it is started', () => {
  it('the RPM wrapper passes them before the bundle', () => {
    const exec = readFileSync(join(root, 'deploy/rpm/buildfleet-agent-wrapper.sh'), 'utf8').split('\n').find((l) => l.startsWith('exec '));
    assert.ok(exec?.includes(`${flags} /usr/libexec/buildfleet-agent/buildfleet-agent.mjs`), exec);
  });

  it('npm start passes them before the entry', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    assert.equal(pkg.scripts.start, `node ${flags} agent/bin.ts serve`);
  });

  it('this Node accepts them (a misspelt V8 flag would stop the daemon from starting)', () => {
    const r = spawnSync(process.execPath, [...daemonNodeFlags, '-e', 'process.exit(7)'], { encoding: 'utf8' });
    assert.equal(r.status, 7, r.stderr);
    assert.equal(r.stderr, '');
  });
});
