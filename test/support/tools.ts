// Tests that need a real peer (skopeo, go, promtool, docker-registry, ...) ask for it here.
// Locally a missing tool skips the test; in CI (.ci/run sets BUILDFLEET_REQUIRE_TOOLS=1) a
// missing tool fails it, so CI can never pass by skipping.
import { spawnSync } from 'node:child_process';
import type { TestContext } from 'node:test';

export const toolsRequired = process.env.BUILDFLEET_REQUIRE_TOOLS === '1';

export function hasTool(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v "$1"`, 'sh', name], { stdio: 'ignore' }).status === 0;
}

// Returns true when every tool is present. Otherwise skips the test (returns false), or throws
// when tools are required.
export function needTools(t: TestContext, ...names: string[]): boolean {
  const missing = names.filter((n) => !hasTool(n));
  if (missing.length === 0) return true;
  const why = `missing tool(s): ${missing.join(', ')}`;
  if (toolsRequired) throw new Error(`${why} (BUILDFLEET_REQUIRE_TOOLS=1 turns this skip into a failure)`);
  t.skip(why);
  return false;
}

// For tests that need root (mount namespaces, chown, loop devices).
export function needRoot(t: TestContext): boolean {
  if (process.getuid?.() === 0) return true;
  if (toolsRequired) throw new Error('test needs root (BUILDFLEET_REQUIRE_TOOLS=1)');
  t.skip('needs root');
  return false;
}
