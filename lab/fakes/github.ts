import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleGit } from 'simple-git';

/**
 * A FAKE of the few GitHub REST endpoints cluster-ops calls through octokit, backed by a real bare git
 * repository, so merges are real merge commits. Used by the lab and the tests because GitHub's API
 * cannot be reached here.
 *
 * Implemented: POST/GET /repos/{o}/{r}/pulls (list filters: state, head, base), GET/PATCH
 * /repos/{o}/{r}/pulls/{n}, PUT /repos/{o}/{r}/pulls/{n}/merge (merge commit only).
 * Limits, on purpose: one repository; token auth only (any request without the configured token gets 401);
 * no reviews, checks, branch protection, mergeability computation, squash/rebase merges, pagination
 * headers or rate limits; merge conflicts answer 405 like GitHub but without its message detail.
 */
export interface FakeGitHub {
  url: string;
  owner: string;
  repo: string;
  token: string;
  pulls: FakePull[];
  /** Merges a pull request as a person clicking "Merge" would. */
  merge(number: number): Promise<string>;
  close(): Promise<void>;
}

export interface FakePull {
  number: number;
  title: string;
  body: string | null;
  head: string;
  base: string;
  state: 'open' | 'closed';
  merged: boolean;
  merge_commit_sha: string | null;
}

export interface FakeGitHubOptions {
  bareRepo: string;
  owner?: string;
  repo?: string;
  token?: string;
  /** Merge every new pull request right away (an eager reviewer). */
  autoMerge?: boolean;
}

export async function startFakeGitHub(options: FakeGitHubOptions): Promise<FakeGitHub> {
  const owner = options.owner ?? 'willingham-cloud';
  const repo = options.repo ?? 'k8s-config';
  const token = options.token ?? 'fake-github-token';
  const pulls: FakePull[] = [];
  const prefix = `/repos/${owner}/${repo}/pulls`;

  const view = (pull: FakePull, url: string) => ({
    ...pull,
    id: pull.number,
    html_url: `${url}/${owner}/${repo}/pull/${pull.number}`,
    head: { ref: pull.head, label: `${owner}:${pull.head}` },
    base: { ref: pull.base, label: `${owner}:${pull.base}` },
  });

  let mergeQueue = Promise.resolve('');
  const merge = (number: number) => {
    mergeQueue = mergeQueue.then(
      () => mergeInRepo(number),
      () => mergeInRepo(number),
    );
    return mergeQueue;
  };
  async function mergeInRepo(number: number): Promise<string> {
    const pull = pulls.find((p) => p.number === number);
    if (!pull) throw new HttpError(404, 'Not Found');
    if (pull.merged) return pull.merge_commit_sha!;
    if (pull.state !== 'open') throw new HttpError(405, 'Pull Request is not mergeable');
    const work = mkdtempSync(join(tmpdir(), 'fake-github-merge-'));
    try {
      const git = simpleGit(work);
      await git.clone(options.bareRepo, work, ['--branch', pull.base]);
      await git.addConfig('user.name', 'GitHub').addConfig('user.email', 'noreply@github.invalid');
      await git.fetch('origin', pull.head);
      try {
        await git.merge(['--no-ff', '-m', `Merge pull request #${number} from ${owner}/${pull.head}\n\n${pull.title}`, 'FETCH_HEAD']);
      } catch {
        throw new HttpError(405, 'Pull Request is not mergeable');
      }
      await git.push('origin', `HEAD:refs/heads/${pull.base}`);
      const sha = (await git.revparse(['HEAD'])).trim();
      Object.assign(pull, { merged: true, state: 'closed', merge_commit_sha: sha });
      return sha;
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      const status = error instanceof HttpError ? error.status : 500;
      send(res, status, { message: error instanceof Error ? error.message : String(error) });
    });
  });
  async function handle(req: IncomingMessage, res: ServerResponse) {
    const auth = req.headers.authorization ?? '';
    if (auth !== `token ${token}` && auth !== `Bearer ${token}`) throw new HttpError(401, 'Bad credentials');
    const url = new URL(req.url ?? '/', 'http://fake');
    const body = await readJson(req);
    if (url.pathname === prefix && req.method === 'GET') {
      const state = url.searchParams.get('state') ?? 'open';
      const head = url.searchParams.get('head');
      const base = url.searchParams.get('base');
      const found = pulls.filter((p) => (state === 'all' || p.state === state) && (!head || `${owner}:${p.head}` === head) && (!base || p.base === base));
      return send(
        res,
        200,
        found.map((p) => view(p, baseUrl)),
      );
    }
    if (url.pathname === prefix && req.method === 'POST') {
      const { title, head, base } = body as { title?: string; head?: string; base?: string };
      if (!title || !head || !base) throw new HttpError(422, 'Validation Failed: title, head and base are required');
      if (pulls.some((p) => p.state === 'open' && p.head === head && p.base === base)) {
        throw new HttpError(422, `Validation Failed: A pull request already exists for ${owner}:${head}.`);
      }
      const headSha = await simpleGit().listRemote([options.bareRepo, `refs/heads/${head}`]);
      if (!headSha.trim()) throw new HttpError(422, `Validation Failed: head ${head} does not exist`);
      const pull: FakePull = {
        number: pulls.length + 1,
        title,
        body: (body as { body?: string }).body ?? null,
        head,
        base,
        state: 'open',
        merged: false,
        merge_commit_sha: null,
      };
      pulls.push(pull);
      if (options.autoMerge) await merge(pull.number);
      return send(res, 201, view(pull, baseUrl));
    }
    const match = url.pathname.match(new RegExp(`^${prefix}/(\\d+)(/merge)?$`));
    const pull = match ? pulls.find((p) => p.number === Number(match[1])) : undefined;
    if (!match || !pull) throw new HttpError(404, 'Not Found');
    if (!match[2] && req.method === 'GET') return send(res, 200, view(pull, baseUrl));
    if (!match[2] && req.method === 'PATCH') {
      const { state, title } = body as { state?: 'open' | 'closed'; title?: string };
      if (state && !pull.merged) pull.state = state;
      if (title) pull.title = title;
      return send(res, 200, view(pull, baseUrl));
    }
    if (match[2] && req.method === 'PUT') {
      const sha = await merge(pull.number);
      return send(res, 200, { sha, merged: true, message: 'Pull Request successfully merged' });
    }
    throw new HttpError(404, 'Not Found');
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const baseUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    url: baseUrl,
    owner,
    repo,
    token,
    pulls,
    merge,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : {};
}

function send(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}
