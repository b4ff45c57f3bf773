import { isInsideWindow, msUntilWindowOpens } from '../../src/domain/maintenance-window.js';
import type { MaintenanceWindow } from '../../src/domain/maintenance-window.js';
import { MaintenanceWindowInput } from '../../src/schemas/rolling.js';

const at = (iso: string) => Date.parse(iso);
const HOUR = 3600_000;
const weekendNights: MaintenanceWindow = { days: ['sat', 'sun'], start: '02:00', end: '05:00', timeZone: 'Europe/Berlin' };
const overnight: MaintenanceWindow = { days: ['fri'], start: '22:00', end: '04:00', timeZone: 'UTC' };

test.each([
  // 2026-11-28 is a Saturday; Berlin is UTC+1 in winter.
  ['inside, Saturday 03:00 Berlin', weekendNights, '2026-11-28T02:00:00Z', true],
  ['before it opens, Saturday 01:59 Berlin', weekendNights, '2026-11-28T00:59:00Z', false],
  ['end is exclusive, Sunday 05:00 Berlin', weekendNights, '2026-11-29T04:00:00Z', false],
  ['a weekday at the same hour', weekendNights, '2026-11-25T02:00:00Z', false],
  ['overnight, evening part on the opening day', overnight, '2026-11-27T23:00:00Z', true],
  ['overnight, morning part belongs to the previous day', overnight, '2026-11-28T03:59:00Z', true],
  ['overnight, morning of the opening day is outside', overnight, '2026-11-27T03:00:00Z', false],
])('%s', (_, window, instant, inside) => {
  expect(isInsideWindow(at(instant), window)).toBe(inside);
});

test('the wait runs to the next opening, in the window’s own zone', () => {
  // Wednesday 12:00 UTC → Saturday 02:00 Berlin = Saturday 01:00 UTC.
  expect(msUntilWindowOpens(at('2026-11-25T12:00:00Z'), weekendNights)).toBe(at('2026-11-28T01:00:00Z') - at('2026-11-25T12:00:00Z'));
  expect(msUntilWindowOpens(at('2026-11-28T02:30:00Z'), weekendNights)).toBe(0);
});

test('the window follows daylight saving time: 02:00 Berlin is 00:00 UTC in summer', () => {
  // 2026-06-27 is a Saturday (UTC+2).
  expect(msUntilWindowOpens(at('2026-06-26T23:00:00Z'), weekendNights)).toBe(HOUR);
});

test('bad windows are refused with the field named', () => {
  const result = MaintenanceWindowInput.safeParse({ start: '25:00', end: '02:00', timeZone: 'Mars/Olympus' });
  expect(result.success).toBe(false);
  expect(result.error!.issues.map((i) => i.path.join('.')).sort()).toEqual(['start', 'timeZone']);
  expect(MaintenanceWindowInput.safeParse({ start: '02:00', end: '02:00' }).error?.issues[0]?.path).toEqual(['end']);
});
