import { z } from 'zod';

/** A Kubernetes object name (RFC 1123 subdomain), e.g. a node name. */
export const kubeName = z
  .string()
  .min(1, 'must not be empty')
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'must be a lowercase RFC 1123 name');

export const seconds = (max: number) => z.number().int().positive().max(max);
