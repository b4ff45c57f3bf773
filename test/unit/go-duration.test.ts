import { parseGoDuration } from '../../src/domain/go-duration.js';

test('reads the Go durations kustomize-controller writes into status.history', () => {
  expect(parseGoDuration('361.389422ms')).toBeCloseTo(361.389422);
  expect(parseGoDuration('1.502s')).toBe(1502);
  expect(parseGoDuration('2m3.5s')).toBe(123_500);
  expect(parseGoDuration('1h0m0s')).toBe(3_600_000);
  expect(parseGoDuration('250µs')).toBeCloseTo(0.25);
  expect(parseGoDuration('0')).toBe(0);
});

test('anything else is no duration, not a guess', () => {
  for (const text of [undefined, '', '5', '1.5 s', 'ten seconds', '3sx']) expect(parseGoDuration(text)).toBeUndefined();
});
