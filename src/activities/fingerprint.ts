import { createHash } from 'node:crypto';

/** What leaves an activity instead of a secret: a short sha256 prefix, enough to compare, useless to log in. */
export function fingerprint(secret: string): string {
  return `sha256:${createHash('sha256').update(secret, 'utf8').digest('hex').slice(0, 12)}`;
}
