// The status page's "Next:" line: every check reason code gets one, and a code without a
// hand-written step gets the table's action (docs/problem-codes.md), not a bare pointer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nextStep } from '../../../agent/http/status-page/next-steps.ts';
import { codeFields, problemCodes, type CheckReasonCode, type CodeEntry } from '../../../lib/problem-codes.ts';

const page = { base: 'http://build-07:20580' };

test('every check reason code has a next step other than "see the docs"', () => {
  const codes = codeFields[0].flatMap((g) => Object.keys(problemCodes[g])) as CheckReasonCode[];
  assert.ok(codes.length > 20, `${codes.length} codes`);
  const bare = codes.filter((c) => nextStep(c, page).startsWith('See docs/problem-codes.md'));
  assert.deepEqual(bare, []);
});

test('cache-unverified shows the action the table gives it', () => {
  const entry = (problemCodes.cacheReason as Record<string, CodeEntry>)['cache-unverified'];
  assert.ok(entry, 'cache-unverified is a cache reason');
  assert.equal(nextStep('cache-unverified', page), entry.action);
});
