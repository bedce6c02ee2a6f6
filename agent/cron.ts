// Cron expressions, as the config accepts them: 5 fields, or 6 with seconds first (the form
// node-cron accepted before croner replaced it; docs/config.md). croner, because node-cron
// formats every tick's time through Intl.DateTimeFormat with time-zone names, which pulls
// ICU's zone data into memory (measured: +18 MiB RSS for one 1 s schedule; croner +2.5 MiB).
import { CronPattern, type CronMode } from 'croner';

export const cronMode: CronMode = '5-or-6-parts';

export function isValidCron(text: string): boolean {
  try {
    new CronPattern(text, undefined, { mode: cronMode });
    return true;
  } catch {
    return false;
  }
}
