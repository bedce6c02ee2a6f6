import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { daemonEnvironment } from '../../deploy/daemon-environment.ts';

const root = join(import.meta.dirname, '../..');

describe('the daemon starts with the same environment everywhere', () => {
  it('npm start sets it before running the daemon', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    const env = Object.entries(daemonEnvironment)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    assert.equal(pkg.scripts.start, `${env} node agent/bin.mjs serve`);
  });

  it('the RPM wrapper exports it unless the host already set it', () => {
    const wrapper = readFileSync(join(root, 'deploy/rpm/buildfleet-agent-wrapper.sh'), 'utf8');
    for (const [k, v] of Object.entries(daemonEnvironment)) {
      const env = { PATH: '/usr/bin:/bin', NODE: '/bin/true' };
      // The wrapper up to its exec, then print what the agent would inherit.
      const script = wrapper.replace(/^exec .*$/m, `printf '%s' "$${k}"`);
      assert.equal(spawnSync('sh', ['-c', script], { env, encoding: 'utf8' }).stdout, v);
      assert.equal(spawnSync('sh', ['-c', script], { env: { ...env, [k]: '7' }, encoding: 'utf8' }).stdout, '7');
    }
  });
});
