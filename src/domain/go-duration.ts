const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/**
 * Milliseconds in a Go duration string as Flux writes them (`1.503s`, `2m3.5s`, `450ms`); undefined when
 * the text is not one.
 */
export function parseGoDuration(text: string | undefined): number | undefined {
  if (!text) return undefined;
  if (text === '0') return 0;
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) return undefined;
  return parts.reduce((total, [, value, unit]) => total + Number(value) * UNIT_MS[unit!]!, 0);
}
