// The event history: a bounded, persisted log of what happened on the host. Kept in memory (the
// newest `maxEvents`) for GET /v1/events and the status page, and appended to
// <stateDir>/events.jsonl, one JSON line per event, fsync'd (events are rare: a status change,
// a quarantine, a maintenance). When the file passes `maxBytes` it is rewritten with the newest
// events that fit in half of it, atomically (temp file, fsync, rename, fsync of the directory,
// like the state file), so the disk it may use is bounded and a crash leaves the old file or
// the new one.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log.ts';
import { eventFromJson } from './event-from-json.ts';
import { ensurePrivateDir, privateFileMode } from '../private-dir.ts';
import { eventTypes, type AgentEvent, type EventQuery, type EventType, type NewEvent } from './types.ts';

export const eventsFileName = 'events.jsonl';
export const defaultEventsMaxBytes = 512 * 1024;
export const defaultMaxEvents = 500;

export interface EventLogOptions {
  stateDir: string | null; // null: in memory only (the one-shot `check` verb)
  now: () => Date;
  log: Logger;
  maxBytes?: number;
  maxEvents?: number;
}

export interface EventLog {
  // Numbers, stamps and keeps the event at once; the write follows (see flushed()).
  record(event: NewEvent): AgentEvent;
  // Oldest first. With `since`: the first `limit` events after it (a poller pages forward);
  // without: the newest `limit`. `more`: events after the last one returned exist.
  query(q: EventQuery): { events: AgentEvent[]; more: boolean };
  // Events recorded by this process since it started, per type (buildfleet_events_total).
  counts(): ReadonlyMap<EventType, number>;
  // Resolves when every write so far has finished: null, or the last write's error.
  flushed(): Promise<Error | null>;
  // Why the file could not be (fully) read at start; null when it was fine or absent.
  loadProblem: string | null;
}

interface Loaded {
  events: AgentEvent[];
  problem: string | null;
}

// Reads at most the last `maxBytes` of the file: a file grown past the cap (another writer, a
// crash before compaction) cannot make the agent read or hold more than that.
function loadEvents(file: string, maxBytes: number): Loaded {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { events: [], problem: null };
    return { events: [], problem: `${file}: ${(err as Error).message}` };
  }
  try {
    const size = fstatSync(fd).size;
    const length = Math.min(size, maxBytes);
    const buffer = Buffer.alloc(length);
    const read = readSync(fd, buffer, 0, length, size - length);
    let lines = buffer.subarray(0, read).toString('utf8').split('\n');
    if (size > length) lines = lines.slice(1); // the first line was cut
    const events: AgentEvent[] = [];
    let bad = 0;
    for (const line of lines) {
      if (line.trim() === '') continue;
      let event: AgentEvent | null = null;
      try {
        event = eventFromJson(JSON.parse(line));
      } catch {
        event = null;
      }
      if (event === null) bad += 1;
      else events.push(event);
    }
    events.sort((a, b) => a.id - b.id);
    return { events, problem: bad > 0 ? `${file}: ignored ${bad} line(s) that are not events` : null };
  } catch (err) {
    return { events: [], problem: `${file}: ${(err as Error).message}` };
  } finally {
    closeSync(fd);
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export function createEventLog(opts: EventLogOptions): EventLog {
  const maxBytes = opts.maxBytes ?? defaultEventsMaxBytes;
  const maxEvents = opts.maxEvents ?? defaultMaxEvents;
  const dir = opts.stateDir;
  const file = dir === null ? null : join(dir, eventsFileName);
  const loaded = file === null ? { events: [], problem: null } : loadEvents(file, maxBytes);
  const events: AgentEvent[] = loaded.events.slice(-maxEvents);
  let nextId = (loaded.events.at(-1)?.id ?? 0) + 1;
  const counts = new Map<EventType, number>(eventTypes.map((t) => [t, 0]));
  // Bytes the file holds as far as this process knows; a failed append leaves it unknown, and
  // the next append re-reads it from the file.
  let fileBytes: number | null = null;
  // Writes run one after another, in the order the events happened.
  let tail: Promise<Error | null> = Promise.resolve(null);

  async function append(line: string): Promise<Error | null> {
    if (file === null || dir === null) return null;
    try {
      // Root's business only, like the state file (agent/private-dir.ts).
      ensurePrivateDir(dir);
      const fh = await open(file, 'a', privateFileMode);
      try {
        await fh.writeFile(line);
        await fh.datasync();
        fileBytes = (await fh.stat()).size;
      } finally {
        await fh.close();
      }
      if (fileBytes > maxBytes) await compact();
      return null;
    } catch (err) {
      fileBytes = null;
      return err as Error;
    }
  }

  // The newest events that fit in half the cap, so compaction happens once per maxBytes/2 of
  // events rather than at every append.
  async function compact(): Promise<void> {
    if (file === null || dir === null) return;
    const lines: string[] = [];
    let bytes = 0;
    for (let i = events.length - 1; i >= 0; i -= 1) {
      const line = `${JSON.stringify(events[i])}\n`;
      bytes += Buffer.byteLength(line);
      if (bytes > maxBytes / 2) break;
      lines.unshift(line);
    }
    const temp = join(dir, `.${eventsFileName}.${process.pid}.tmp`);
    try {
      const fh = await open(temp, 'w', privateFileMode);
      try {
        await fh.writeFile(lines.join(''));
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(temp, file);
      await syncDir(dir);
      fileBytes = Buffer.byteLength(lines.join(''));
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      throw err;
    }
  }

  return {
    loadProblem: loaded.problem,
    record(newEvent) {
      const event = { id: nextId, time: opts.now().toISOString(), ...newEvent } as AgentEvent;
      nextId += 1;
      events.push(event);
      if (events.length > maxEvents) events.splice(0, events.length - maxEvents);
      counts.set(event.type, (counts.get(event.type) ?? 0) + 1);
      const line = `${JSON.stringify(event)}\n`;
      tail = tail
        .then(() => append(line))
        .then((err) => {
          if (err)
            opts.log.error(
              { event: 'event-history-write-failed', file, err: err.message },
              'could not write the event history; the event is kept in memory only',
            );
          return err;
        });
      return event;
    },
    query({ since, limit = 100 }) {
      const after =
        since === undefined
          ? events
          : 'id' in since
            ? events.filter((e) => e.id > since.id)
            : events.filter((e) => Date.parse(e.time) > since.time.getTime());
      const chosen = since === undefined ? after.slice(-limit) : after.slice(0, limit);
      return { events: chosen, more: since !== undefined && after.length > chosen.length };
    },
    counts: () => counts,
    flushed: () => tail,
  };
}
