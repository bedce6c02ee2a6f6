// The status page in a real browser (Debian's chromium, headless, over the DevTools protocol):
// every host state at a phone's width (390 px) and a desktop's (1280 px) shows what a person
// on call needs, and never scrolls sideways. Screenshots go to test/.artifacts/status-page/
// (gitignored; CI keeps them as artifacts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { needTools } from '../../support/tools.ts';
import { chromiumBinary, launchChromium } from '../../support/chromium.ts';
import { serveForTest } from './serve-for-test.ts';
import { pageStates } from './status-page-states.ts';

const artifacts = fileURLToPath(new URL('../../.artifacts/status-page/', import.meta.url));

test('the status page of every state reads right at 390 and 1280 px, without sideways scrolling', async (t) => {
  if (!needTools(t, chromiumBinary)) return;
  mkdirSync(artifacts, { recursive: true });
  const states = await pageStates();
  const browser = await launchChromium();
  t.after(() => browser.close());
  const tab = await browser.tab();
  for (const state of states) {
    const srv = await serveForTest(state.core);
    try {
      for (const width of [390, 1280]) {
        await tab.open(`${srv.base}/`, width);
        const seen = await tab.evaluate<{ text: string; scrollWidth: number; innerWidth: number; scripts: number }>(
          '({ text: document.body.innerText, scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth, scripts: document.scripts.length })',
        );
        const where = `${state.name} at ${width} px`;
        // A phone-emulating viewport grows to fit content that is too wide (innerWidth > width),
        // so both are checked: the viewport stayed the screen's width and nothing scrolls beyond.
        assert.equal(seen.innerWidth, width, `${where}: the page is wider than the screen`);
        assert.ok(
          seen.scrollWidth <= seen.innerWidth,
          `${where}: the page scrolls sideways (${seen.scrollWidth} > ${seen.innerWidth})`,
        );
        assert.equal(seen.scripts, 0, `${where}: no script`);
        for (const text of state.expect)
          assert.ok(seen.text.includes(text), `${where}: "${text}" missing from\n${seen.text}`);
        writeFileSync(join(artifacts, `${state.name}-${width}.png`), await tab.screenshot());
      }
    } finally {
      await srv.stop();
    }
  }
});
