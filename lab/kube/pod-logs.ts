import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { CoreV1Api, CustomObjectsApi, V1Pod } from '@kubernetes/client-node';

const KWOK_GROUP = 'kwok.x-k8s.io';
const KWOK_VERSION = 'v1alpha1';

/**
 * Gives KWOK's simulated pods a container log the API server serves (`kubectl logs`, readNamespacedPodLog):
 * the text goes to a file in the CRI log format kubelets write, and a KWOK Logs object named after the pod
 * points KWOK at it. The Logs object is owned by the pod, so it goes when the pod does.
 */
export class PodLogFiles {
  private readonly served = new Set<string>();

  constructor(
    private readonly core: CoreV1Api,
    private readonly custom: CustomObjectsApi,
    private readonly dir: string,
  ) {}

  /** Sets the pod's whole log to `text` (each call replaces the file at once, so a reader never sees half a line). */
  async write(pod: V1Pod, text: string): Promise<void> {
    const { name, namespace, uid } = pod.metadata as { name: string; namespace: string; uid: string };
    const file = join(this.dir, namespace, `${name}.log`);
    mkdirSync(join(this.dir, namespace), { recursive: true });
    writeFileSync(`${file}.tmp`, criLog(text));
    renameSync(`${file}.tmp`, file);
    const key = `${namespace}/${name}`;
    if (this.served.has(key)) return;
    await this.custom.createNamespacedCustomObject({
      group: KWOK_GROUP,
      version: KWOK_VERSION,
      namespace,
      plural: 'logs',
      body: {
        apiVersion: `${KWOK_GROUP}/${KWOK_VERSION}`,
        kind: 'Logs',
        metadata: { name, namespace, ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name, uid }] },
        spec: { logs: [{ logsFile: file }] },
      },
    });
    this.served.add(key);
    // KWOK learns of the Logs object through a watch: the log is readable once the API server serves it.
    for (let tries = 0; ; tries++) {
      try {
        await this.core.readNamespacedPodLog({ name, namespace, limitBytes: 1 });
        return;
      } catch (error) {
        if (tries >= 100) throw error;
        await delay(100);
      }
    }
  }
}

/** One `<RFC3339Nano time> stdout F <line>` record per line, as a kubelet's container runtime writes them. */
function criLog(text: string): string {
  const now = new Date().toISOString();
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines.map((line) => `${now} stdout F ${line}\n`).join('');
}
