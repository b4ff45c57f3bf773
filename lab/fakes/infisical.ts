/**
 * FAKE Infisical API, in memory, driven by two real clients (Infisical's server cannot run on this machine):
 * the official `@infisical/sdk` 5.0.2 (the worker's rotation activities) and the Go SDK
 * `github.com/infisical/go-sdk` v0.5.100 inside External Secrets v0.20.4's Infisical provider (the real ESO
 * controller the lab and the tests run). Request and reply shapes are Infisical's.
 *
 * Routes, and which client calls them:
 * - POST  /api/v1/auth/universal-auth/login  {clientId, clientSecret} → {accessToken, expiresIn, ...}; 401 when
 *   wrong or when the identity's login was revoked. Both clients (ESO logs in anew for every sync and store check).
 * - POST  /api/v1/auth/token/revoke  {accessToken} → {message}. ESO, when it closes its client after each sync.
 * - GET   /api/v3/secrets/raw   ?workspaceSlug|workspaceId&environment&secretPath[&recursive] → {secrets, imports: []}.
 *   ESO, to validate a ClusterSecretStore (it marks the store Ready only when this answers).
 * - GET   /api/v3/secrets/raw/:name   ?workspaceSlug|workspaceId&environment&secretPath[&version] → {secret}; 404
 *   when absent. ESO (by project slug, for each `data[].remoteRef.key`) and @infisical/sdk (by project id).
 * - POST  /api/v3/secrets/raw/:name   {workspaceId, environment, secretPath, secretValue, ...} → {secret}; 400 when
 *   it exists. @infisical/sdk.
 * - PATCH /api/v3/secrets/raw/:name   same body → {secret} with version + 1; 404 when absent. @infisical/sdk.
 * - a write under a path with an approval policy answers {approval: {...}} and changes nothing (as Infisical
 *   does: the change waits for a reviewer, i.e. it is NOT applied)
 * - any secrets call without a valid bearer token → 401
 *
 * Limits (what the real server does and this fake does not): no delete/bulk endpoints, no v4 `/api/v4/secrets`
 * routes, no folders (any secretPath exists), no imports or secret references (`include_imports` and
 * `expandSecretReferences` are ignored; `imports` is always empty), no personal overrides (`type` is ignored),
 * no tags/metadata, no token expiry or renewal (`/api/v1/auth/token/renew` is not served: the Go SDK would call
 * it only near the 2 h expiry), no rate limits, no end-to-end encryption, no permission model beyond "has a
 * token"; a project's slug is its id (ESO asks by slug, @infisical/sdk by id); approval requests are never
 * reviewed or merged. Revoking an identity's login keeps its issued tokens valid, as revoking a client secret does.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface FakeInfisicalIdentity {
  clientId: string;
  clientSecret: string;
}

export interface ApprovalPolicy {
  projectId: string;
  environment: string;
  /** Writes at this path or below it need a reviewer's approval. */
  secretPath: string;
}

interface SecretVersion {
  value: string;
  comment: string;
  createdAt: string;
}

interface StoredSecret {
  id: string;
  projectId: string;
  environment: string;
  secretPath: string;
  key: string;
  createdAt: string;
  versions: SecretVersion[];
}

export interface FakeInfisical {
  url: string;
  /** The machine identity the fake starts with (the worker's). */
  identity: FakeInfisicalIdentity;
  /** Another machine identity (ESO's, say), so one can be locked out while the other works. */
  addIdentity(): FakeInfisicalIdentity;
  /** Universal-auth logins of this identity answer 401 until restored (its issued tokens stay valid). */
  revokeLogin(identity: FakeInfisicalIdentity): void;
  restoreLogin(identity: FakeInfisicalIdentity): void;
  /** What was written, for tests: every write of a secret, in order (values included: tests only). */
  history(where: SecretAddress): string[];
  /** Seeds a secret without going through the API (the state the real Infisical starts from). */
  seed(where: SecretAddress, value: string): void;
  addApprovalPolicy(policy: ApprovalPolicy): void;
  close(): Promise<void>;
}

export interface SecretAddress {
  projectId: string;
  environment: string;
  secretPath: string;
  secretName: string;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly kind: string,
    message: string,
  ) {
    super(message);
  }
}

const normalizePath = (path: string | undefined) => {
  const trimmed = (path ?? '/').replace(/\/+$/, '');
  return trimmed.startsWith('/') ? trimmed || '/' : `/${trimmed}`;
};
const keyOf = (a: { projectId: string; environment: string; secretPath: string; key: string }) =>
  `${a.projectId}\u0000${a.environment}\u0000${normalizePath(a.secretPath)}\u0000${a.key}`;
const underPath = (path: string, prefix: string) => {
  const p = normalizePath(path);
  const q = normalizePath(prefix);
  return q === '/' || p === q || p.startsWith(`${q}/`);
};

export async function startFakeInfisical(options: { port?: number; identity?: FakeInfisicalIdentity } = {}): Promise<FakeInfisical> {
  const newIdentity = () => ({ clientId: randomUUID(), clientSecret: randomBytes(24).toString('hex') });
  const identity = options.identity ?? newIdentity();
  /** clientSecret by clientId, for identities whose login is allowed. */
  const identities = new Map([[identity.clientId, identity.clientSecret]]);
  const revoked = new Set<string>();
  const tokens = new Set<string>();
  const secrets = new Map<string, StoredSecret>();
  const approvals: ApprovalPolicy[] = [];

  const toApi = (secret: StoredSecret, version = secret.versions.length) => {
    const v = secret.versions[version - 1]!;
    return {
      id: secret.id,
      _id: secret.id,
      workspace: secret.projectId,
      environment: secret.environment,
      secretPath: secret.secretPath,
      version,
      type: 'shared',
      secretKey: secret.key,
      secretValue: v.value,
      secretComment: v.comment,
      secretReminderNote: null,
      secretReminderRepeatDays: null,
      skipMultilineEncoding: false,
      createdAt: secret.createdAt,
      updatedAt: v.createdAt,
      tags: [],
      secretMetadata: [],
    };
  };

  const approvalFor = (where: { projectId: string; environment: string; secretPath: string }, key: string, op: string) => {
    const policy = approvals.find((p) => p.projectId === where.projectId && p.environment === where.environment && underPath(where.secretPath, p.secretPath));
    if (!policy) return undefined;
    return {
      approval: {
        id: randomUUID(),
        policyId: `${policy.projectId}:${policy.environment}:${policy.secretPath}`,
        status: 'open',
        hasMerged: false,
        slug: `${op}-${key}`.toLowerCase(),
        folderId: normalizePath(where.secretPath),
        createdAt: new Date().toISOString(),
      },
    };
  };

  const write = (where: SecretAddress, value: string, comment = '') => {
    const id = keyOf({ ...where, key: where.secretName });
    const now = new Date().toISOString();
    const existing = secrets.get(id);
    if (existing) {
      existing.versions.push({ value, comment, createdAt: now });
      return existing;
    }
    const created: StoredSecret = {
      id: randomUUID(),
      projectId: where.projectId,
      environment: where.environment,
      secretPath: normalizePath(where.secretPath),
      key: where.secretName,
      createdAt: now,
      versions: [{ value, comment, createdAt: now }],
    };
    secrets.set(id, created);
    return created;
  };

  const handle = async (req: IncomingMessage, url: URL): Promise<unknown> => {
    const body = req.method === 'GET' ? {} : await readJson(req);
    if (req.method === 'POST' && url.pathname === '/api/v1/auth/universal-auth/login') {
      const clientId = String(body.clientId ?? '');
      if (identities.get(clientId) !== body.clientSecret || revoked.has(clientId)) {
        throw new HttpError(401, 'UnauthorizedError', 'Invalid credentials');
      }
      const accessToken = randomBytes(32).toString('hex');
      tokens.add(accessToken);
      return { accessToken, expiresIn: 7200, accessTokenMaxTTL: 7200, tokenType: 'Bearer' };
    }
    if (req.method === 'POST' && url.pathname === '/api/v1/auth/token/revoke') {
      tokens.delete(String(body.accessToken ?? ''));
      return { message: 'Successfully revoked access token' };
    }
    const match = /^\/api\/v3\/secrets\/raw(?:\/([^/]+))?$/.exec(url.pathname);
    if (!match) throw new HttpError(404, 'NotFound', `Route ${req.method}:${url.pathname} not found`);
    const auth = req.headers.authorization ?? '';
    if (!auth.startsWith('Bearer ') || !tokens.has(auth.slice('Bearer '.length))) {
      throw new HttpError(401, 'UnauthorizedError', 'Failed to authenticate: missing or invalid token');
    }
    const source = req.method === 'GET' ? Object.fromEntries(url.searchParams) : body;
    // ESO's Go SDK sends an empty workspaceId next to the slug: an empty value counts as absent.
    const project = [source.workspaceId, source.workspaceSlug, source.projectId].find((value) => typeof value === 'string' && value !== '');
    const where = {
      projectId: String(project ?? ''),
      environment: String(source.environment ?? ''),
      secretPath: normalizePath(source.secretPath as string | undefined),
    };
    if (!where.projectId || !where.environment) {
      throw new HttpError(422, 'ValidationFailure', 'workspaceId (or workspaceSlug) and environment are required');
    }
    if (match[1] === undefined) {
      if (req.method !== 'GET') throw new HttpError(404, 'NotFound', `Route ${req.method}:${url.pathname} not found`);
      const listed = [...secrets.values()].filter(
        (secret) =>
          secret.projectId === where.projectId &&
          secret.environment === where.environment &&
          (source.recursive === 'true' ? underPath(secret.secretPath, where.secretPath) : secret.secretPath === where.secretPath),
      );
      return { secrets: listed.map((secret) => toApi(secret)), imports: [] };
    }
    const key = decodeURIComponent(match[1]);
    const existing = secrets.get(keyOf({ ...where, key }));
    const notFound = () => new HttpError(404, 'NotFound', `Secret with name '${key}' not found`);
    switch (req.method) {
      case 'GET': {
        if (!existing) throw notFound();
        const version = source.version === undefined ? existing.versions.length : Number(source.version);
        if (!Number.isInteger(version) || version < 1 || version > existing.versions.length) throw notFound();
        return { secret: toApi(existing, version) };
      }
      case 'POST': {
        if (existing) throw new HttpError(400, 'BadRequest', 'Secret already exist');
        const approval = approvalFor(where, key, 'create');
        if (approval) return approval;
        return { secret: toApi(write({ ...where, secretName: key }, String(body.secretValue ?? ''), String(body.secretComment ?? ''))) };
      }
      case 'PATCH': {
        if (!existing) throw notFound();
        const approval = approvalFor(where, key, 'update');
        if (approval) return approval;
        const last = existing.versions.at(-1)!;
        const value = body.secretValue === undefined ? last.value : String(body.secretValue);
        return { secret: toApi(write({ ...where, secretName: key }, value, String(body.secretComment ?? last.comment))) };
      }
      default:
        throw new HttpError(404, 'NotFound', `Route ${req.method}:${url.pathname} not found`);
    }
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    handle(req, url).then(
      (reply) => send(res, 200, reply),
      (error: unknown) => {
        const status = error instanceof HttpError ? error.status : 500;
        const kind = error instanceof HttpError ? error.kind : 'InternalServerError';
        send(res, status, { reqId: randomUUID(), statusCode: status, message: (error as Error).message, error: kind });
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };

  return {
    url: `http://127.0.0.1:${port}`,
    identity,
    addIdentity: () => {
      const added = newIdentity();
      identities.set(added.clientId, added.clientSecret);
      return added;
    },
    revokeLogin: ({ clientId }) => void revoked.add(clientId),
    restoreLogin: ({ clientId }) => void revoked.delete(clientId),
    history: (where) => secrets.get(keyOf({ ...where, key: where.secretName }))?.versions.map((v) => v.value) ?? [],
    seed: (where, value) => void write(where, value),
    addApprovalPolicy: (policy) => void approvals.push(policy),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function send(res: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text) return {};
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new HttpError(400, 'BadRequest', 'body is not JSON');
  }
}
