import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { simpleGit } from 'simple-git';
import type { SimpleGit } from 'simple-git';
import { FailureType } from '../../failures.js';

/** The GitOps repository Flux reconciles, and who commits to it. */
export interface GitOpsRepoConfig {
  /** Clone URL (a local path in the lab); may carry a token, so it is never logged. */
  url: string;
  /** The branch Flux reconciles. */
  baseBranch: string;
  /** Where the worker keeps its clone (a writable emptyDir in the cluster). */
  checkoutDir: string;
  author: { name: string; email: string };
}

/**
 * One clone per worker, used by one operation at a time: every operation starts from a fresh fetch,
 * so a crashed or retried activity never builds on a half-done local state.
 */
export class GitOpsRepo {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly config: GitOpsRepoConfig) {}

  /** Runs `work` with the clone fetched and all remote branches known, after any running operation. */
  exclusive<T>(work: (git: SimpleGit, dir: string) => Promise<T>): Promise<T> {
    const run = async () => {
      const dir = join(this.config.checkoutDir, 'repo');
      if (!existsSync(join(dir, '.git'))) {
        mkdirSync(this.config.checkoutDir, { recursive: true });
        await simpleGit().clone(this.config.url, dir, ['--no-checkout']);
      }
      const git = simpleGit(dir);
      await git.addConfig('user.name', this.config.author.name).addConfig('user.email', this.config.author.email);
      await git.raw(['fetch', '--prune', 'origin', '+refs/heads/*:refs/remotes/origin/*']);
      return work(git, dir);
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }
}

export async function remoteBranchSha(git: SimpleGit, branch: string): Promise<string | undefined> {
  try {
    return (await git.revparse([`refs/remotes/origin/${branch}`])).trim();
  } catch {
    return undefined;
  }
}

export async function readAt(git: SimpleGit, ref: string, path: string): Promise<string> {
  try {
    return await git.show([`${ref}:${path}`]);
  } catch {
    throw ApplicationFailure.nonRetryable(`${path} does not exist at ${ref} in the GitOps repository`, FailureType.GitOpsFileMissing);
  }
}

/** Checks out `branch` at `startRef`, writes the file, commits; returns the new commit, or undefined if nothing changed. */
export async function commitFile(git: SimpleGit, dir: string, branch: string, startRef: string, path: string, text: string, message: string) {
  await git.checkout(['-B', branch, startRef]);
  const file = join(dir, path);
  mkdirSync(dirname(file), { recursive: true });
  if (existsSync(file) && readFileSync(file, 'utf8') === text) return undefined;
  writeFileSync(file, text);
  await git.add(path);
  await git.commit(message, [path]);
  return (await git.revparse(['HEAD'])).trim();
}
