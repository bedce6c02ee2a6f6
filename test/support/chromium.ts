// A small driver for the system's headless Chromium over the DevTools protocol (Node 22's
// built-in WebSocket), for the status page's real-browser test: one browser for all pages,
// one tab, a viewport per render. No browser download; network features that would call out
// (updates, sync, safe browsing) are off, so the browser talks to 127.0.0.1 only.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const chromiumBinary = 'chromium';

interface Pending {
  resolve: (v: Record<string, unknown>) => void;
  reject: (e: Error) => void;
}

export interface Tab {
  // Loads the URL at this viewport size and waits for the load event.
  open(url: string, width: number, height?: number): Promise<void>;
  evaluate<T>(expression: string): Promise<T>;
  // A PNG of the whole page (beyond the viewport).
  screenshot(): Promise<Buffer>;
}

export interface Browser {
  tab(): Promise<Tab>;
  close(): Promise<void>;
}

export async function launchChromium(timeoutMs = 20_000): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'bfa-chromium-'));
  const child: ChildProcess = spawn(
    chromiumBinary,
    [
      '--headless=new',
      '--no-sandbox',
      '--disable-gpu',
      '--remote-debugging-port=0',
      '--remote-debugging-address=127.0.0.1',
      `--user-data-dir=${profile}`,
      '--no-first-run',
      '--no-default-browser-check',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-default-apps',
      '--disable-extensions',
      '--metrics-recording-only',
      '--disable-domain-reliability',
      '--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication',
      '--hide-scrollbars',
      '--force-color-profile=srgb',
      'about:blank',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const endpoint = await new Promise<string>((resolve, reject) => {
    let text = '';
    const timer = setTimeout(
      () => reject(new Error(`chromium did not start within ${timeoutMs} ms:\n${text}`)),
      timeoutMs,
    );
    child.stderr?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(text);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`chromium exited (${code}) before listening:\n${text}`));
    });
  });
  child.stderr?.resume();

  const ws = new WebSocket(endpoint);
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener('open', () => resolve(), { once: true });
    ws.addEventListener('error', () => reject(new Error(`cannot connect to ${endpoint}`)), { once: true });
  });
  let nextId = 1;
  const pending = new Map<number, Pending>();
  const listeners = new Set<(msg: { method: string; sessionId?: string; params?: unknown }) => void>();
  ws.addEventListener('message', (ev) => {
    const msg = JSON.parse(String(ev.data)) as {
      id?: number;
      result?: Record<string, unknown>;
      error?: { message: string };
      method?: string;
      sessionId?: string;
      params?: unknown;
    };
    if (msg.id !== undefined) {
      const p = pending.get(msg.id);
      pending.delete(msg.id);
      if (msg.error) p?.reject(new Error(msg.error.message));
      else p?.resolve(msg.result ?? {});
    } else if (msg.method) {
      for (const l of listeners) l({ method: msg.method, sessionId: msg.sessionId, params: msg.params });
    }
  });
  const send = (method: string, params: object = {}, sessionId?: string): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      ws.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
    });
  const waitFor = (method: string, sessionId: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        listeners.delete(l);
        reject(new Error(`no ${method} within ${timeoutMs} ms`));
      }, timeoutMs);
      const l = (msg: { method: string; sessionId?: string }) => {
        if (msg.method === method && msg.sessionId === sessionId) {
          clearTimeout(timer);
          listeners.delete(l);
          resolve();
        }
      };
      listeners.add(l);
    });

  return {
    async tab() {
      const { targetId } = await send('Target.createTarget', { url: 'about:blank' });
      const { sessionId } = (await send('Target.attachToTarget', { targetId, flatten: true })) as { sessionId: string };
      await send('Page.enable', {}, sessionId);
      return {
        async open(url, width, height = 900) {
          await send(
            'Emulation.setDeviceMetricsOverride',
            { width, height, deviceScaleFactor: 1, mobile: width < 600 },
            sessionId,
          );
          const loaded = waitFor('Page.loadEventFired', sessionId);
          await send('Page.navigate', { url }, sessionId);
          await loaded;
        },
        async evaluate<T>(expression: string) {
          const r = (await send('Runtime.evaluate', { expression, returnByValue: true }, sessionId)) as {
            result: { value: T };
            exceptionDetails?: { text: string };
          };
          if (r.exceptionDetails) throw new Error(`${expression}: ${r.exceptionDetails.text}`);
          return r.result.value;
        },
        async screenshot() {
          const metrics = (await send('Page.getLayoutMetrics', {}, sessionId)) as {
            cssContentSize: { width: number; height: number };
            cssLayoutViewport: { clientWidth: number };
          };
          const clip = {
            x: 0,
            y: 0,
            width: metrics.cssLayoutViewport.clientWidth,
            height: Math.ceil(metrics.cssContentSize.height),
            scale: 1,
          };
          const r = (await send(
            'Page.captureScreenshot',
            { format: 'png', captureBeyondViewport: true, clip },
            sessionId,
          )) as { data: string };
          return Buffer.from(r.data, 'base64');
        },
      };
    },
    async close() {
      await send('Browser.close').catch(() => undefined);
      ws.close();
      if (child.exitCode === null) {
        await new Promise((resolve) => {
          const timer = setTimeout(() => {
            child.kill('SIGKILL');
            resolve(null);
          }, 3000);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve(null);
          });
        });
      }
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
