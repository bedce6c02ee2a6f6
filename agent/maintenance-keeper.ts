// The maintenance in force, as the core keeps it: set and ended through the API and the CLI,
// ended by its expiry, written to the state file and recorded in the event history. The pure
// rules are in agent/maintenance.ts.
import type { Maintenance, StateWriteRefusal } from './core-types.ts';
import type { EventLog } from './events/event-log.ts';
import type { Logger } from './log.ts';
import { activeMaintenance, startMaintenance, type MaintenanceRequest } from './maintenance.ts';
import { stateWriteRefusal } from './state-persistence.ts';

export interface MaintenanceKeeperOptions {
  restored: Maintenance | null; // from the state file
  now: () => Date;
  log: Logger;
  events: EventLog;
  // Writes the state file (which reads value()); resolves with null or the write's error.
  save: () => Promise<Error | null>;
}

export interface MaintenanceKeeper {
  // As it stands, for the state file (an expiry not yet noticed included).
  value(): Maintenance | null;
  // In force now; one that has expired ends here (logged, recorded and saved).
  current(): Maintenance | null;
  // Resolve once the change is in the state file; when it cannot be written nothing changes.
  set(request: MaintenanceRequest): Promise<{ ok: true; maintenance: Maintenance } | StateWriteRefusal>;
  clear(by: string): Promise<{ ok: true; was: Maintenance | null } | StateWriteRefusal>;
}

export function createMaintenanceKeeper(opts: MaintenanceKeeperOptions): MaintenanceKeeper {
  const { log, events } = opts;
  let maintenance = activeMaintenance(opts.restored, opts.now());
  // A maintenance that expired while the agent was down ended then: say so in the history.
  if (opts.restored !== null && maintenance === null) {
    events.record({ type: 'maintenance-cleared', reason: opts.restored.reason, by: 'expired' });
  }

  // A maintenance change the state file could not record is undone (unless a newer change
  // replaced it meanwhile), so the answer "failed" means "nothing changed", also after a restart.
  async function change(next: Maintenance | null): Promise<Error | null> {
    const before = maintenance;
    maintenance = next;
    const err = await opts.save();
    if (err && maintenance === next) maintenance = before;
    return err;
  }

  function current(): Maintenance | null {
    const inForce = activeMaintenance(maintenance, opts.now());
    if (maintenance !== null && inForce === null) {
      log.info(
        { event: 'maintenance-expired', reason: maintenance.reason, expiresAt: maintenance.expiresAt },
        'maintenance expired',
      );
      events.record({ type: 'maintenance-cleared', reason: maintenance.reason, by: 'expired' });
      maintenance = null;
      void opts.save();
    }
    return inForce;
  }

  return {
    value: () => maintenance,
    current,
    async set(request) {
      const m = startMaintenance(request, opts.now());
      const err = await change(m);
      if (err) return stateWriteRefusal(err);
      log.warn(
        { event: 'maintenance-started', reason: m.reason, expiresAt: m.expiresAt, by: m.by },
        'maintenance started',
      );
      events.record({ type: 'maintenance-set', reason: m.reason, by: m.by, expiresAt: m.expiresAt });
      return { ok: true, maintenance: m };
    },
    async clear(by) {
      const was = current();
      if (was === null) return { ok: true, was: null };
      const err = await change(null);
      if (err) return stateWriteRefusal(err);
      log.warn({ event: 'maintenance-ended', reason: was.reason }, 'maintenance ended');
      events.record({ type: 'maintenance-cleared', reason: was.reason, by });
      return { ok: true, was };
    },
  };
}
