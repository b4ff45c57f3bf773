import { readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import type { RequestOptions } from 'node:https';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { ApiextensionsV1Api } from '@kubernetes/client-node';
import type { KubeConfig } from '@kubernetes/client-node';
import { parseObjects } from './apply.js';

/**
 * Server-side apply of one CRD exactly as written. Not through the client's typed serializer: it knows the
 * schema extensions by their TypeScript names only and silently drops `x-kubernetes-preserve-unknown-fields`
 * written as YAML has it, which makes ESO's GeneratorState CRD invalid (a field with neither type nor that flag).
 */
async function applyCrd(config: KubeConfig, crd: { metadata?: { name?: string } }) {
  const options: RequestOptions = {};
  await config.applyToHTTPSOptions(options);
  const url = `${config.getCurrentCluster()!.server}/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata!.name}?fieldManager=cluster-ops-lab&force=true`;
  const body = JSON.stringify(crd);
  await new Promise<void>((resolve, reject) => {
    const req = request(url, { ...options, method: 'PATCH', headers: { ...options.headers, 'content-type': 'application/apply-patch+yaml' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        res.statusCode && res.statusCode < 300
          ? resolve()
          : reject(new Error(`applying CRD ${crd.metadata!.name}: ${res.statusCode} ${Buffer.concat(chunks).toString('utf8')}`)),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Applies the CRDs install.sh collected (Flux, External Secrets) and waits until they are served. */
export async function installCrds(config: KubeConfig, crdDir: string): Promise<void> {
  const crds = readdirSync(crdDir)
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((f) => parseObjects(readFileSync(join(crdDir, f), 'utf8')));
  for (const crd of crds) await applyCrd(config, crd);
  const api = config.makeApiClient(ApiextensionsV1Api);
  for (;;) {
    const crds = await api.listCustomResourceDefinition();
    const pending = crds.items.filter((crd) => !crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True'));
    if (pending.length === 0) return;
    await delay(100);
  }
}
