import { readFileSync } from 'node:fs';
import { KubernetesObjectApi, PatchStrategy } from '@kubernetes/client-node';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';

/** Parses multi-document YAML into objects, skipping empty documents. */
export function parseObjects(text: string): KubernetesObject[] {
  return parseAllDocuments(text)
    .map((doc) => doc.toJS() as KubernetesObject | null)
    .filter((object): object is KubernetesObject => Boolean(object?.kind));
}

/** Server-side apply, as `kubectl apply --server-side --force-conflicts` does. */
export async function applyObjects(config: KubeConfig, objects: KubernetesObject[], fieldManager: string): Promise<void> {
  const client = KubernetesObjectApi.makeApiClient(config);
  for (const object of objects) {
    await client.patch(object, undefined, undefined, fieldManager, true, PatchStrategy.ServerSideApply);
  }
}

export async function applyFiles(config: KubeConfig, files: string[], fieldManager = 'cluster-ops-lab'): Promise<void> {
  await applyObjects(
    config,
    files.flatMap((file) => parseObjects(readFileSync(file, 'utf8'))),
    fieldManager,
  );
}
