import { z } from 'zod';
import { absolutePath, dnsLabel, kubeName, seconds } from './common.js';

const DAY = 24 * 3600;
const infisicalSlug = z.string().regex(/^[\w-]{1,64}$/, 'must be an Infisical id or slug (letters, digits, _ -)');

/** Where a client secret lives in Infisical (project, environment, folder path, key). */
export const InfisicalSecretRef = z.strictObject({
  projectId: infisicalSlug,
  environment: infisicalSlug.default('prod'),
  secretPath: absolutePath('/keycloak').default('/'),
  // Not `.` or `..`: the key is a segment of the API's URL path.
  secretName: z.string().regex(/^(?!\.\.?$)[\w.-]+$/, 'must be a secret key such as GRAFANA_OIDC_CLIENT_SECRET'),
});
export type InfisicalSecretRef = z.output<typeof InfisicalSecretRef>;

export const WorkloadRef = z.strictObject({
  kind: z.enum(['Deployment', 'StatefulSet']).default('Deployment'),
  namespace: dnsLabel,
  name: kubeName,
});
export type WorkloadRef = z.output<typeof WorkloadRef>;

/** One OIDC client: the Keycloak client, its secret in Infisical, the ExternalSecret and who reads it. */
export const OidcClientTarget = z.strictObject({
  clientId: z
    .string()
    .max(255, { abort: true })
    .regex(/^[\w.-]+$/, 'must be a Keycloak client id (letters, digits, _ . -)'),
  infisical: InfisicalSecretRef,
  externalSecret: z.strictObject({ namespace: dnsLabel, name: kubeName }),
  /** Restarted after the sync (read their secret at start); empty for consumers that reload it (Argo CD). */
  consumers: z.array(WorkloadRef).default([]),
});
export type OidcClientTarget = z.output<typeof OidcClientTarget>;

export const RotationPolicy = z
  .strictObject({
    /** How long the old secret keeps working after consumers switched, before it is revoked. */
    soakSeconds: seconds(30 * DAY).default(6 * 3600),
    /**
     * Create the realm's client profile + policy with the secret-rotation executor when missing; without
     * it the run stops at preflight, because regenerating would kill the old secret at once.
     */
    ensureClientPolicy: z.boolean().default(false),
    clientPolicy: z
      .strictObject({
        name: z.string().min(1).default('cluster-ops-secret-rotation'),
        /** Keycloak's rotated-expiration-period: how long the old secret stays valid by itself. */
        graceSeconds: seconds(90 * DAY).default(2 * DAY),
        /** Keycloak's expiration-period for the current secret: longer than the rotation schedule. */
        expirationSeconds: seconds(3650 * DAY).default(365 * DAY),
      })
      .prefault({}),
    syncTimeoutSeconds: seconds(24 * 3600).default(600),
    rolloutTimeoutSeconds: seconds(24 * 3600).default(900),
  })
  .check(
    z.refine((p) => p.clientPolicy.graceSeconds > p.soakSeconds, {
      path: ['clientPolicy', 'graceSeconds'],
      message: 'must be longer than soakSeconds: the old secret must outlive the soak',
    }),
  );

export const RotateOidcClientInput = z.strictObject({
  client: OidcClientTarget,
  policy: RotationPolicy.prefault({}),
});
export type RotateOidcClientInput = z.input<typeof RotateOidcClientInput>;

export const RotateOidcSecretsInput = z
  .strictObject({
    /** The client list (schedules/oidc-clients.yaml in this repo). */
    clients: z.array(OidcClientTarget).min(1),
    /** Rotate only these client ids from the list (on-demand runs). */
    only: z.array(z.string().min(1)).min(1).optional(),
    /** Clients rotated at once; 1 keeps a failure to one service. */
    maxParallel: z.number().int().min(1).max(10).default(1),
    policy: RotationPolicy.prefault({}),
  })
  .check(
    z.superRefine((input, ctx) => {
      const ids = input.clients.map((c) => c.clientId);
      const duplicate = ids.find((id, i) => ids.indexOf(id) !== i);
      if (duplicate) ctx.addIssue({ code: 'custom', path: ['clients'], message: `client ${duplicate} is listed twice` });
      for (const id of input.only ?? []) {
        if (!ids.includes(id)) ctx.addIssue({ code: 'custom', path: ['only'], message: `${id} is not in the client list` });
      }
    }),
  );
export type RotateOidcSecretsInput = z.input<typeof RotateOidcSecretsInput>;

export const rotateOidcClientId = (parentId: string, clientId: string) => `${parentId}/${clientId}`;
