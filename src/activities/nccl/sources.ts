import { setTimeout as delay } from 'node:timers/promises';
import type { CoreV1Api } from '@kubernetes/client-node';
import { isApiStatus } from '../kube/clients.js';
import { MANAGED_BY } from './manifests.js';

/** Where rank 0's output comes from: its pod's log, through the API server. */
export interface PodLogSource {
  read(namespace: string, pod: string): Promise<string>;
}

/** Lists a training's checkpoints, oldest first (names sort by step: ckpt-000100 < ckpt-000200). */
export interface CheckpointLister {
  list(where: { namespace: string; claim: string; dir: string }): Promise<string[]>;
}

export function kubePodLogs(core: CoreV1Api): PodLogSource {
  return { read: (namespace, name) => core.readNamespacedPodLog({ namespace, name, container: 'nccl' }) };
}

const LISTER_IMAGE = 'busybox:1.37';

/**
 * Lists the claim's checkpoint directory from a short-lived pod that mounts it (ReadWriteMany, so it can
 * while no job runs, or beside one) and prints `ls -1`; the pod is deleted afterwards.
 */
export function podCheckpointLister(core: CoreV1Api, logs: PodLogSource = kubePodLogs(core)): CheckpointLister {
  return {
    async list({ namespace, claim, dir }) {
      const name = `${claim}-ls`.slice(0, 63);
      try {
        await core.createNamespacedPod({
          namespace,
          body: {
            metadata: { name, labels: MANAGED_BY },
            spec: {
              restartPolicy: 'Never',
              containers: [
                {
                  name: 'nccl',
                  image: LISTER_IMAGE,
                  command: ['sh', '-c', `ls -1 ${dir} | sort`],
                  volumeMounts: [{ name: 'c', mountPath: dir, readOnly: true }],
                },
              ],
              volumes: [{ name: 'c', persistentVolumeClaim: { claimName: claim, readOnly: true } }],
            },
          },
        });
      } catch (error) {
        if (!isApiStatus(error, 409)) throw error;
      }
      try {
        for (let i = 0; i < 120; i++) {
          const phase = (await core.readNamespacedPod({ name, namespace })).status?.phase;
          if (phase === 'Failed') throw new Error(`listing ${claim}:${dir} failed: ${await logs.read(namespace, name)}`);
          if (phase === 'Succeeded')
            return (await logs.read(namespace, name))
              .split('\n')
              .filter(Boolean)
              .map((entry) => `${dir}/${entry}`);
          await delay(1_000);
        }
        throw new Error(`listing ${claim}:${dir} did not finish in 120 s`);
      } finally {
        await core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 0 }).catch(() => undefined);
      }
    },
  };
}
