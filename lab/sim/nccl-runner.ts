import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { CoreV1Api, CustomObjectsApi, V1Pod } from '@kubernetes/client-node';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { ATTEMPT_LABEL, MANAGED_BY, NCCL_JOB_LABEL } from '../../src/activities/nccl/manifests.js';
import { setNodeNotReady } from '../kube/nodes.js';
import { PodLogFiles } from '../kube/pod-logs.js';

/**
 * SIMULATOR of what runs inside NCCL job pods. The lab has no GPUs and KWOK's pods run nothing, so this
 * runner plays each attempt's ending, chosen per job by the test or the lab user:
 *  - complete: rank 0 prints a recorded log (use a real nccl-tests output), then the launcher
 *    (benchmark) or every rank (training) exits 0;
 *  - fail: rank 0 prints a log and exits with the given code;
 *  - hang: rank 0 prints part of a log and then nothing, the pods keep running;
 *  - node-loss: rank 0 prints part of a log, then the node of one rank stops reporting Ready (KWOK's
 *    node-not-ready stage) and comes back after recoverAfterMs.
 * Rank 0's output is its pod's log, served by KWOK through the API server (lab/kube/pod-logs.ts). Each job's
 * claim is bound to a hostPath PersistentVolume the runner makes, a real directory under `dataDir`;
 * checkpoints are empty files there. The runner also plays the checkpoint lister's pod (any other
 * cluster-ops pod in the namespace): it lists the directory behind the pod's claim into the pod's log and
 * exits 0. Limits: pods reach Running only through KWOK, no command in them runs, and nothing checks the
 * GPU, the VF, Multus or the ssh secret.
 */
export type SimulatedOutcome =
  | { kind: 'complete'; log: string; checkpoints?: string[] }
  | { kind: 'fail'; log: string; exitCode: number }
  | { kind: 'hang'; log: string }
  /** The node of `rank` (default 1) is lost, or `node` when named (ranks land on either node of the pair). */
  | { kind: 'node-loss'; log: string; recoverAfterMs: number; rank?: number; node?: string; checkpoints?: string[] };

export interface PlayedAttempt {
  job: string;
  attempt: number;
  outcome: SimulatedOutcome['kind'];
  /** What the pods were told to resume from (training's RESUME_FROM). */
  resumeFrom?: string;
  nodes: string[];
}

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const MANAGED_BY_SELECTOR = Object.entries(MANAGED_BY)
  .map(([key, value]) => `${key}=${value}`)
  .join(',');
const claimOf = (pod: V1Pod) => pod.spec!.volumes?.find((v) => v.persistentVolumeClaim)?.persistentVolumeClaim?.claimName;
const COMPLETION_INDEX_LABEL = 'batch.kubernetes.io/job-completion-index';
const POLL_MS = 200;

export class SimulatedNcclRunner {
  readonly played: PlayedAttempt[] = [];
  private readonly scripts = new Map<string, SimulatedOutcome[]>();
  private readonly seen = new Set<string>();
  private readonly volumes: string[] = [];
  private stopped = false;
  private readonly loop: Promise<void>;
  private readonly core: CoreV1Api;
  /** The pods' logs: write one to make rank 0 print it. */
  readonly logs: PodLogFiles;

  /**
   * `dataDir` holds the pods' log files and the claims' volumes; `defaultOutcome` ends the attempts of jobs
   * nobody scripted (the lab: complete with a recorded log).
   */
  constructor(
    kube: { core: CoreV1Api; custom: CustomObjectsApi },
    private readonly namespace: string,
    private readonly dataDir: string,
    private readonly defaultOutcome?: SimulatedOutcome,
  ) {
    this.core = kube.core;
    this.logs = new PodLogFiles(kube.core, kube.custom, join(dataDir, 'logs'));
    this.loop = this.run();
  }

  /** The endings of a job's attempts, in order; attempts past the list end like the last one. */
  script(job: string, outcomes: SimulatedOutcome[]): void {
    this.scripts.set(job, [...outcomes]);
  }

  /** A hostPath PersistentVolume pre-bound to the claim: a directory of `dataDir`, so pods that mount it can be scheduled. */
  private async provideVolume(claim: string, size: string): Promise<void> {
    const name = `${this.namespace}-${claim}`.slice(0, 63);
    const path = join(this.dataDir, 'volumes', this.namespace, claim);
    mkdirSync(path, { recursive: true });
    this.volumes.push(name);
    await this.core.createPersistentVolume({
      body: {
        metadata: { name },
        spec: {
          capacity: { storage: size },
          accessModes: ['ReadWriteMany'],
          persistentVolumeReclaimPolicy: 'Delete',
          hostPath: { path },
          claimRef: { namespace: this.namespace, name: claim },
        },
      },
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    await Promise.allSettled(this.volumes.map((name) => this.core.deletePersistentVolume({ name })));
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        const pods = await this.core.listNamespacedPod({ namespace: this.namespace, labelSelector: NCCL_JOB_LABEL });
        const attempts = new Map<string, V1Pod[]>();
        for (const pod of pods.items) {
          const key = `${pod.metadata!.labels![NCCL_JOB_LABEL]}/${pod.metadata!.labels![ATTEMPT_LABEL]}`;
          attempts.set(key, [...(attempts.get(key) ?? []), pod]);
        }
        const claims = await this.core.listNamespacedPersistentVolumeClaim({ namespace: this.namespace, labelSelector: NCCL_JOB_LABEL });
        for (const claim of claims.items) {
          const name = claim.metadata!.name!;
          if (claim.spec?.volumeName || this.seen.has(`pvc/${name}`)) continue;
          this.seen.add(`pvc/${name}`);
          await this.provideVolume(name, claim.spec?.resources?.requests?.storage ?? '1Gi');
        }
        for (const [key, attemptPods] of attempts) {
          if (this.seen.has(key) || !this.allRunning(attemptPods)) continue;
          this.seen.add(key);
          void this.play(attemptPods).catch((error: unknown) => console.error(`nccl runner: ${key}:`, error));
        }
        const listers = await this.core.listNamespacedPod({ namespace: this.namespace, labelSelector: `${MANAGED_BY_SELECTOR},!${NCCL_JOB_LABEL}` });
        for (const pod of listers.items) {
          const key = `lister/${pod.metadata!.uid}`;
          if (this.seen.has(key) || !this.allRunning([pod])) continue;
          this.seen.add(key);
          void this.listClaim(pod).catch((error: unknown) => console.error(`nccl runner: ${pod.metadata!.name}:`, error));
        }
      } catch (error) {
        if (!this.stopped) console.error('nccl runner:', error);
      }
      await delay(POLL_MS);
    }
  }

  private allRunning(pods: V1Pod[]): boolean {
    // One pod per node the job may use (its node affinity lists them).
    const nodes =
      pods[0]?.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms[0]?.matchExpressions?.[0]?.values ?? [];
    return pods.length >= Math.max(nodes.length, 1) && pods.every((p) => p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp);
  }

  private async play(pods: V1Pod[]): Promise<void> {
    const labels = pods[0]!.metadata!.labels!;
    const job = labels[NCCL_JOB_LABEL]!;
    const attempt = Number(labels[ATTEMPT_LABEL]);
    const script = this.scripts.get(job) ?? [];
    const outcome = (script.length > 1 ? script.shift()! : script[0]) ?? this.defaultOutcome;
    if (!outcome) return;
    const byRank = [...pods].sort((a, b) => Number(a.metadata!.labels![COMPLETION_INDEX_LABEL]) - Number(b.metadata!.labels![COMPLETION_INDEX_LABEL]));
    const env = byRank[0]!.spec!.containers[0]!.env ?? [];
    const resumeFrom = env.find((e) => e.name === 'RESUME_FROM')?.value || undefined;
    this.played.push({ job, attempt, outcome: outcome.kind, resumeFrom, nodes: byRank.map((p) => p.spec!.nodeName!) });

    const lines = outcome.log.split(/(?<=\n)/);
    const half = lines.slice(0, Math.ceil(lines.length / 2)).join('');
    await this.logs.write(byRank[0]!, half);
    await delay(300);
    const checkpoints = 'checkpoints' in outcome ? outcome.checkpoints : undefined;
    const claim = claimOf(byRank[0]!);
    if (checkpoints?.length && claim) await this.saveCheckpoints(claim, checkpoints);
    switch (outcome.kind) {
      case 'hang':
        return;
      case 'node-loss': {
        const node = outcome.node ?? byRank[outcome.rank ?? 1]!.spec!.nodeName!;
        await setNodeNotReady(this.core, node, true);
        await delay(outcome.recoverAfterMs);
        await setNodeNotReady(this.core, node, false);
        return;
      }
      case 'fail':
        await this.logs.write(byRank[0]!, outcome.log);
        await this.exit(byRank[0]!, outcome.exitCode);
        return;
      case 'complete': {
        await this.logs.write(byRank[0]!, outcome.log);
        const training = env.some((e) => e.name === 'CHECKPOINT_DIR');
        for (const pod of training ? byRank : byRank.slice(0, 1)) await this.exit(pod, 0);
        return;
      }
    }
  }

  /** Writes empty checkpoint files (names sort by step: ckpt-000100) into the directory behind the claim. */
  async saveCheckpoints(claim: string, names: string[]): Promise<void> {
    const dir = await this.volumePath(claim);
    for (const name of names) writeFileSync(join(dir, name), '');
  }

  /** The host directory of the claim's PersistentVolume, found as the API server binds them. */
  private async volumePath(claim: string): Promise<string> {
    const pvc = await this.core.readNamespacedPersistentVolumeClaim({ namespace: this.namespace, name: claim });
    const path = pvc.spec?.volumeName && (await this.core.readPersistentVolume({ name: pvc.spec.volumeName })).spec?.hostPath?.path;
    if (!path) throw new Error(`claim ${claim} is not bound to a hostPath volume`);
    return path;
  }

  /** Plays the checkpoint lister's `ls -1 <mount> | sort`: the directory behind its claim, sorted, as its log. */
  private async listClaim(pod: V1Pod): Promise<void> {
    const claim = claimOf(pod);
    if (!claim) return;
    const entries = readdirSync(await this.volumePath(claim)).sort();
    await this.logs.write(pod, entries.map((entry) => `${entry}\n`).join(''));
    await this.exit(pod, 0);
  }

  private async exit(pod: V1Pod, exitCode: number) {
    const now = new Date().toISOString();
    const container = pod.spec!.containers[0]!;
    await this.core.patchNamespacedPodStatus(
      {
        name: pod.metadata!.name!,
        namespace: this.namespace,
        body: {
          status: {
            phase: exitCode === 0 ? 'Succeeded' : 'Failed',
            conditions: [{ type: 'Ready', status: 'False', lastTransitionTime: now }],
            containerStatuses: [
              {
                name: container.name,
                image: container.image!,
                imageID: '',
                ready: false,
                restartCount: 0,
                state: { terminated: { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error', startedAt: now, finishedAt: now } },
              },
            ],
          },
        },
      },
      mergePatch,
    );
  }
}
