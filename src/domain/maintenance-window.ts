/**
 * Maintenance windows: when a rolling operation may start a new node. Pure, so workflows compute their
 * durable wait from workflow time and tests are table tests. Times are wall-clock in the window's zone,
 * so a window follows daylight saving time the way the people who chose it do.
 */
export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export interface MaintenanceWindow {
  /** Days the window opens on; an overnight window (end before start) belongs to the day it opens. */
  days: Weekday[];
  /** HH:MM, local to timeZone. */
  start: string;
  end: string;
  /** IANA zone, e.g. Europe/Berlin. */
  timeZone: string;
}

const MINUTE_MS = 60_000;
/** Every window opens within a week; one more day covers a DST shift at the edge. */
const SEARCH_LIMIT_MINUTES = 8 * 24 * 60;

/** Whether the runtime knows the IANA time zone, e.g. Europe/Berlin. */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

export const minutesOf = (hhmm: string) => {
  const [h, m] = hhmm.split(':').map(Number) as [number, number];
  return h * 60 + m;
};

const formatters = new Map<string, Intl.DateTimeFormat>();
function localTime(instant: number, timeZone: string): { day: number; minutes: number } {
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    formatters.set(timeZone, format);
  }
  const parts = Object.fromEntries(format.formatToParts(instant).map((p) => [p.type, p.value]));
  const day = WEEKDAYS.indexOf(String(parts.weekday).toLowerCase().slice(0, 3) as Weekday);
  return { day, minutes: Number(parts.hour) * 60 + Number(parts.minute) };
}

export function isInsideWindow(instant: number, window: MaintenanceWindow): boolean {
  const { day, minutes } = localTime(instant, window.timeZone);
  const start = minutesOf(window.start);
  const end = minutesOf(window.end);
  const opensOn = (d: number) => window.days.includes(WEEKDAYS[(d + 7) % 7]!);
  if (start < end) return opensOn(day) && minutes >= start && minutes < end;
  // Overnight: the evening part belongs to today, the morning part to yesterday's window.
  return (opensOn(day) && minutes >= start) || (opensOn(day - 1) && minutes < end);
}

/** Milliseconds from `now` until the window is open: 0 inside it. */
export function msUntilWindowOpens(now: number, window: MaintenanceWindow): number {
  if (isInsideWindow(now, window)) return 0;
  const firstMinute = Math.floor(now / MINUTE_MS) * MINUTE_MS + MINUTE_MS;
  for (let i = 0; i < SEARCH_LIMIT_MINUTES; i++) {
    const candidate = firstMinute + i * MINUTE_MS;
    if (isInsideWindow(candidate, window)) return candidate - now;
  }
  throw new Error(`maintenance window ${describeWindow(window)} never opens`);
}

export const describeWindow = (window: MaintenanceWindow) => `${window.days.join(',')} ${window.start}-${window.end} ${window.timeZone}`;
