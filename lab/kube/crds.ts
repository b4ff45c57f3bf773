import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { ApiextensionsV1Api } from '@kubernetes/client-node';
import type { KubeConfig } from '@kubernetes/client-node';
import { applyFiles } from './apply.js';

/** Applies the CRDs install.sh collected (Flux, External Secrets) and waits until they are served. */
export async function installCrds(config: KubeConfig, crdDir: string): Promise<void> {
  const files = readdirSync(crdDir)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => join(crdDir, f));
  await applyFiles(config, files);
  const api = config.makeApiClient(ApiextensionsV1Api);
  for (;;) {
    const crds = await api.listCustomResourceDefinition();
    const pending = crds.items.filter((crd) => !crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True'));
    if (pending.length === 0) return;
    await delay(100);
  }
}
