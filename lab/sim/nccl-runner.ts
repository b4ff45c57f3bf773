import { setTimeout as delay } from 'node:timers/promises';
import type { CoreV1Api, V1Pod } from '@kubernetes/client-node';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { ATTEMPT_LABEL, NCCL_JOB_LABEL } from '../../src/activities/nccl/manifests.js';
import type { CheckpointLister, PodLogSource } from '../../src/activities/nccl/sources.js';
import { setNodeNotReady } from '../kube/nodes.js';

/**
 * SIMULATOR of what runs inside NCCL job pods. The lab has no GPUs and KWOK's pods run nothing, so this
 * runner plays each attempt's ending, chosen per job by the test or the lab user:
 *  - complete: rank 0 "prints" a recorded log (use a real nccl-tests output), then the launcher
 *    (benchmark) or every rank (training) exits 0;
 *  - fail: rank 0 prints a log and exits with the given code;
 *  - hang: rank 0 prints part of a log and then nothing, the pods keep running;
 *  - node-loss: rank 0 prints part of a log, then the node of one rank stops reporting Ready (KWOK's
 *    node-not-ready stage) and comes back after recoverAfterMs.
 * Limits: the "log" lives in a pod annotation (SIM_LOG_ANNOTATION; real pods have real logs, read through
 * the core API), checkpoints are names listed in an annotation of the claim (no files), each job's claim
 * is bound to a PersistentVolume the runner makes and that stores nothing, pods reach Running only
 * through KWOK, and nothing checks the GPU, the VF, Multus or the ssh secret.
 */
export const SIM_LOG_ANNOTATION = 'sim.cluster-ops.wcloud.sh/log';
export const SIM_CHECKPOINTS_ANNOTATION = 'sim.cluster-ops.wcloud.sh/checkpoints';

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
const COMPLETION_INDEX_LABEL = 'batch.kubernetes.io/job-completion-index';
const POLL_MS = 200;

export class SimulatedNcclRunner {
  readonly played: PlayedAttempt[] = [];
  private readonly scripts = new Map<string, SimulatedOutcome[]>();
  private readonly seen = new Set<string>();
  private readonly volumes: string[] = [];
  private stopped = false;
  private readonly loop: Promise<void>;

  /** `defaultOutcome` ends the attempts of jobs nobody scripted (the lab: complete with a recorded log). */
  constructor(
    private readonly core: CoreV1Api,
    private readonly namespace: string,
    private readonly defaultOutcome?: SimulatedOutcome,
  ) {
    this.loop = this.run();
  }

  /** The endings of a job's attempts, in order; attempts past the list end like the last one. */
  script(job: string, outcomes: SimulatedOutcome[]): void {
    this.scripts.set(job, [...outcomes]);
  }

  /** The rank 0 "log" (SIMULATED: the annotation the runner writes). */
  readonly logs: PodLogSource = {
    read: async (namespace, name) => (await this.core.readNamespacedPod({ namespace, name })).metadata?.annotations?.[SIM_LOG_ANNOTATION] ?? '',
  };

  /** The claim's checkpoints (SIMULATED: names the runner listed on the claim). */
  readonly checkpoints: CheckpointLister = {
    list: async ({ namespace, claim }) => {
      const pvc = await this.core.readNamespacedPersistentVolumeClaim({ namespace, name: claim });
      return JSON.parse(pvc.metadata?.annotations?.[SIM_CHECKPOINTS_ANNOTATION] ?? '[]') as string[];
    },
  };

  /** A PersistentVolume pre-bound to the claim, so pods that mount it can be scheduled (nothing is stored). */
  private async provideVolume(claim: string, size: string): Promise<void> {
    const name = `${this.namespace}-${claim}`.slice(0, 63);
    this.volumes.push(name);
    await this.core.createPersistentVolume({
      body: {
        metadata: { name },
        spec: {
          capacity: { storage: size },
          accessModes: ['ReadWriteMany'],
          persistentVolumeReclaimPolicy: 'Delete',
          hostPath: { path: `/sim/${this.namespace}/${claim}` },
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
    await this.writeLog(byRank[0]!, half);
    await delay(300);
    const checkpoints = 'checkpoints' in outcome ? outcome.checkpoints : undefined;
    if (checkpoints?.length) await this.saveCheckpoints(byRank[0]!, checkpoints);
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
        await this.writeLog(byRank[0]!, outcome.log);
        await this.exit(byRank[0]!, outcome.exitCode);
        return;
      case 'complete': {
        await this.writeLog(byRank[0]!, outcome.log);
        const training = env.some((e) => e.name === 'CHECKPOINT_DIR');
        for (const pod of training ? byRank : byRank.slice(0, 1)) await this.exit(pod, 0);
        return;
      }
    }
  }

  private async writeLog(pod: V1Pod, log: string) {
    await this.core.patchNamespacedPod(
      { name: pod.metadata!.name!, namespace: this.namespace, body: { metadata: { annotations: { [SIM_LOG_ANNOTATION]: log } } } },
      mergePatch,
    );
  }

  private async saveCheckpoints(pod: V1Pod, names: string[]) {
    const container = pod.spec!.containers[0]!;
    const dir = container.env?.find((e) => e.name === 'CHECKPOINT_DIR')?.value ?? '/checkpoints';
    const claim = pod.spec!.volumes?.find((v) => v.persistentVolumeClaim)?.persistentVolumeClaim?.claimName;
    if (!claim) return;
    const existing = await this.checkpoints.list({ namespace: this.namespace, claim, dir });
    const all = [...new Set([...existing, ...names.map((n) => `${dir}/${n}`)])].sort();
    await this.core.patchNamespacedPersistentVolumeClaim(
      { name: claim, namespace: this.namespace, body: { metadata: { annotations: { [SIM_CHECKPOINTS_ANNOTATION]: JSON.stringify(all) } } } },
      mergePatch,
    );
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
