import { isTimeZone, WEEKDAYS } from './maintenance-window.js';

/**
 * Checks a cron expression the way a Temporal Schedule reads it (ScheduleSpec.cronExpressions): 5 fields
 * (minute hour day-of-month month day-of-week), 6 (plus year) or 7 (second first, year last), or @yearly,
 * @monthly, @weekly, @daily, @hourly; optionally after `CRON_TZ=<zone>` or `TZ=<zone>`, and before a
 * `#` comment. Each field is `*` or a comma list of values and ranges, each with an optional `/step`.
 * Returns what is wrong, or undefined. Checked before any schedule is sent, so one bad expression in a
 * schedules file cannot leave the server with the entries before it applied and the rest not.
 */
export function cronProblem(expression: string): string | undefined {
  let rest = expression.replace(/#.*$/, '').trim();
  const zone = /^(CRON_TZ|TZ)=(\S+)\s+/.exec(rest);
  if (zone) {
    if (!isTimeZone(zone[2]!)) return `unknown time zone ${zone[2]}`;
    rest = rest.slice(zone[0].length);
  }
  if (/^@(yearly|monthly|weekly|daily|hourly)$/.test(rest)) return undefined;
  if (rest.startsWith('@')) return `unknown shorthand ${rest}; use @yearly, @monthly, @weekly, @daily or @hourly (or the entry's every)`;
  const values = rest.split(/\s+/);
  const fields = FIELD_LAYOUTS[values.length];
  if (!fields) return `has ${values.length} fields; a cron expression has 5 (minute hour day-of-month month day-of-week), 6 (plus year) or 7 (second first)`;
  for (const [i, field] of fields.entries()) {
    const problem = fieldProblem(values[i]!, field);
    if (problem) return `${field.name} "${values[i]}": ${problem}`;
  }
  return undefined;
}

interface CronField {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'] as const;
const SECOND: CronField = { name: 'second', min: 0, max: 59 };
const MINUTE: CronField = { name: 'minute', min: 0, max: 59 };
const HOUR: CronField = { name: 'hour', min: 0, max: 23 };
const DAY_OF_MONTH: CronField = { name: 'day-of-month', min: 1, max: 31 };
const MONTH: CronField = { name: 'month', min: 1, max: 12, names: MONTHS };
// 7 is Sunday too, as in most crons.
const DAY_OF_WEEK: CronField = { name: 'day-of-week', min: 0, max: 7, names: WEEKDAYS };
const YEAR: CronField = { name: 'year', min: 1970, max: 2999 };
const FIVE = [MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK];
const FIELD_LAYOUTS: Record<number, CronField[]> = { 5: FIVE, 6: [...FIVE, YEAR], 7: [SECOND, ...FIVE, YEAR] };

function fieldProblem(text: string, field: CronField): string | undefined {
  for (const item of text.split(',')) {
    const match = /^(\*|\?|[^-/]+(?:-[^-/]+)?)(?:\/(\d+))?$/.exec(item);
    if (!match) return `"${item}" is not a value, range or step`;
    const [, range, step] = match;
    if (step !== undefined && Number(step) === 0) return 'a step must be at least 1';
    if (range === '*' || range === '?') continue;
    for (const value of range!.split('-')) {
      const number = valueOf(value, field);
      if (number === undefined)
        return `"${value}" is not a ${field.name}${field.names ? ` (${field.min}-${field.max} or a name such as ${field.names[1]})` : ''}`;
      if (number < field.min || number > field.max) return `${value} is outside ${field.min}-${field.max}`;
    }
  }
  return undefined;
}

function valueOf(value: string, field: CronField): number | undefined {
  if (/^\d+$/.test(value)) return Number(value);
  const index = field.names?.indexOf(value.toLowerCase()) ?? -1;
  // Month names count from 1, day names from 0 (sun), as their numbers do.
  return index < 0 ? undefined : index + field.min;
}
