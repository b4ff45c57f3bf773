import { ApplicationFailure } from '@temporalio/common';
import type { Octokit } from 'octokit';
import { readVfConfig, VfConfigError, writeVfConfig } from '../../domain/sriov-config.js';
import type { VfConfig } from '../../domain/sriov-config.js';
import { parse as parseYaml } from 'yaml';
import { NodeInventory } from '../../schemas/node-inventory.js';
import { describeIssues } from '../../schemas/validate.js';
import { FluxGraphError } from '../../domain/flux-graph.js';
import type { FluxGraph } from '../../domain/flux-graph.js';
import { failForGoodOn, FailureType, notConfigured } from '../../failures.js';
import { FluxSourceMissing, kubectlKustomize, readFluxGraphAt } from './flux-tree.js';
import type { RenderKustomize } from './flux-tree.js';
import { commitFile, readAt, remoteBranchSha } from './repo.js';
import type { GitOpsRepo } from './repo.js';

export interface GitHubTarget {
  octokit: Octokit;
  owner: string;
  repo: string;
}

export interface GitOpsDeps {
  repo: GitOpsRepo;
  /** Absent: only direct pushes to the base branch are possible. */
  github?: GitHubTarget;
  /** Renders Kustomization paths for readFluxGraphFromGit; default `kubectl kustomize` of the kubectl on PATH. */
  renderKustomize?: RenderKustomize;
}

export interface ReadFluxGraphFromGitInput {
  ref: string;
  cluster: string;
  /** The cluster's entry folder; default clusters/<cluster>, discovered when missing. */
  entryPath?: string;
}

export interface ReadVfConfigInput {
  path: string;
}

export interface ReadVfConfigResult {
  config: VfConfig;
  /** The base branch's head the config was read at. */
  commit: string;
}

export interface ProposeVfChangeInput {
  path: string;
  desired: VfConfig;
  /** pull-request: push `branch` and open (or reuse) a pull request; push: commit straight to the base branch. */
  mode: 'pull-request' | 'push';
  branch: string;
  title: string;
}

export interface ProposeVfChangeResult {
  /** False when the base branch already holds the desired config: nothing to merge. */
  changed: boolean;
  previous: VfConfig;
  /** The commit to wait for: the pushed one in push mode, the branch tip in pull-request mode. */
  commit: string;
  pullRequest?: { number: number; url: string };
}

export interface PullRequestState {
  number: number;
  state: 'open' | 'closed';
  merged: boolean;
  mergeCommit?: string;
}

const parseConfig = (text: string, path: string): VfConfig => failForGoodOn(VfConfigError, FailureType.BadVfConfigFile, () => readVfConfig(text), `${path}: `);

export function createGitOpsActivities(deps: GitOpsDeps | undefined) {
  const need = (): GitOpsDeps => {
    if (!deps) throw notConfigured('the GitOps repository (GITOPS_REPO_URL)');
    return deps;
  };
  const needGitHub = (): GitHubTarget => {
    const github = need().github;
    if (!github) throw notConfigured('GitHub (GITHUB_REPOSITORY, GITHUB_TOKEN)');
    return github;
  };
  return {
    async readVfConfig({ path }: ReadVfConfigInput): Promise<ReadVfConfigResult> {
      const { repo } = need();
      return repo.exclusive(async (git) => {
        const base = `origin/${repo.config.baseBranch}`;
        return { config: parseConfig(await readAt(git, base, path), path), commit: (await git.revparse([base])).trim() };
      });
    },

    /**
     * Puts the desired VF config into Git. Idempotent: a retry finds its branch (or the base branch)
     * already holding the change and its pull request already open, and reports the same result.
     */
    async proposeVfChange(input: ProposeVfChangeInput): Promise<ProposeVfChangeResult> {
      const { repo } = need();
      const github = input.mode === 'pull-request' ? needGitHub() : undefined;
      const base = repo.config.baseBranch;
      const result = await repo.exclusive(async (git, dir) => {
        const baseText = await readAt(git, `origin/${base}`, input.path);
        const previous = parseConfig(baseText, input.path);
        const edit = writeVfConfig(baseText, input.desired);
        const baseSha = (await git.revparse([`origin/${base}`])).trim();
        if (!edit.changed) return { changed: false, previous, commit: baseSha };
        const message = `${input.title}\n\nNUM_VFS ${previous.numVfs} -> ${input.desired.numVfs}, VF_MTU ${previous.mtu} -> ${input.desired.mtu}\n\nCommitted by cluster-ops.`;
        if (input.mode === 'push') {
          const commit = await commitFile(git, dir, 'cluster-ops-work', `origin/${base}`, input.path, edit.text, message);
          // A rejected push (someone else pushed) fails this attempt; the retry starts from a fresh fetch.
          await git.push('origin', `HEAD:refs/heads/${base}`);
          return { changed: true, previous, commit: commit! };
        }
        const existing = await remoteBranchSha(git, input.branch);
        if (existing) {
          const onBranch = parseConfig(await readAt(git, existing, input.path), input.path);
          if (onBranch.numVfs === input.desired.numVfs && onBranch.mtu === input.desired.mtu) {
            return { changed: true, previous, commit: existing };
          }
        }
        const commit = await commitFile(git, dir, input.branch, `origin/${base}`, input.path, edit.text, message);
        await git.push('origin', `HEAD:refs/heads/${input.branch}`, ['--force']);
        return { changed: true, previous, commit: commit! };
      });
      if (!result.changed || input.mode === 'push') return result;
      return { ...result, pullRequest: await openPullRequest(github!, input.branch, base, input.title, result) };
    },

    /**
     * The Kustomizations Flux would create for the cluster from the GitOps repo at `ref` (a branch, tag or
     * commit), following every spec.path from the entry folder (flux-tree.ts).
     */
    async readFluxGraphFromGit({ ref, cluster, entryPath }: ReadFluxGraphFromGitInput): Promise<FluxGraph> {
      const { repo, renderKustomize = kubectlKustomize() } = need();
      return repo.exclusive(async (git) => {
        const resolved = (await remoteBranchSha(git, ref)) ?? ref;
        try {
          return (await readFluxGraphAt(git, { ref: resolved, cluster, entryPath, render: renderKustomize })).graph;
        } catch (error) {
          if (error instanceof FluxSourceMissing) throw ApplicationFailure.nonRetryable(error.message, FailureType.GitOpsFileMissing);
          if (error instanceof FluxGraphError) throw ApplicationFailure.nonRetryable(error.message, FailureType.InvalidFluxGraph);
          throw error;
        }
      });
    },

    /** The node inventory at the head of the base branch, validated. */
    async readNodeInventory({ path }: { path: string }): Promise<NodeInventory> {
      const { repo } = need();
      const text = await repo.exclusive((git) => readAt(git, `origin/${repo.config.baseBranch}`, path));
      const parsed = NodeInventory.safeParse(parseYaml(text));
      if (!parsed.success) throw ApplicationFailure.nonRetryable(`${path}:\n${describeIssues(parsed.error, 'inventory')}`, FailureType.BadInventory);
      return parsed.data;
    },

    async getPullRequest({ number }: { number: number }): Promise<PullRequestState> {
      const github = needGitHub();
      const { data } = await github.octokit.rest.pulls.get({ owner: github.owner, repo: github.repo, pull_number: number });
      return {
        number,
        state: data.state as 'open' | 'closed',
        merged: data.merged === true,
        mergeCommit: data.merged ? (data.merge_commit_sha ?? undefined) : undefined,
      };
    },
  };
}

async function openPullRequest(github: GitHubTarget, branch: string, base: string, title: string, change: { previous: VfConfig }) {
  const { octokit, owner, repo } = github;
  const open = await octokit.rest.pulls.list({ owner, repo, head: `${owner}:${branch}`, base, state: 'open' });
  const found = open.data[0];
  if (found) return { number: found.number, url: found.html_url };
  const { data } = await octokit.rest.pulls.create({
    owner,
    repo,
    head: branch,
    base,
    title,
    body: `Opened by cluster-ops. Previous VF config: ${change.previous.numVfs} VFs, MTU ${change.previous.mtu}.\nNodes are restarted one at a time after this merges and Flux applies it.`,
  });
  return { number: data.number, url: data.html_url };
}
