import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../repo-root.js';

/** Where install.sh put the pinned binaries (all under ~/.cache/cluster-ops by default). */
export interface InfraPaths {
  temporal: string;
  temporalTestServer: string;
  kubeBin: string;
  etcd: string;
  kwok: string;
  kwokStages: string;
  /** The CRD of KWOK's Logs objects (a file served as a pod's log). */
  kwokCrds: string;
  crds: string;
  victoriaMetrics: string;
  /** The unpacked Keycloak distribution (pristine: copy it before running it). */
  keycloak: string;
  keycloakJavaHome: string;
  fluxSourceController: string;
  fluxKustomizeController: string;
  externalSecrets: string;
  /** Jaeger v2 (all-in-one: OTLP receivers, storage, query API). */
  jaeger: string;
  /** Debian's chromium, for puppeteer-core (which downloads no browser). */
  chromium: string;
}

/** Installs whatever is missing (instant when cached) and returns the paths. */
export async function installInfra(): Promise<InfraPaths> {
  const { stdout } = await promisify(execFile)('bash', [join(repoRoot(), 'lab/infra/install.sh'), '--print-env'], {
    maxBuffer: 1 << 20,
    timeout: 60 * 60 * 1000,
  });
  const vars = Object.fromEntries([...stdout.matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
  const get = (name: string) => {
    const value = vars[name];
    if (!value) throw new Error(`install.sh did not report ${name}`);
    return value;
  };
  return {
    temporal: get('CLUSTER_OPS_TEMPORAL'),
    temporalTestServer: get('CLUSTER_OPS_TEMPORAL_TEST_SERVER'),
    kubeBin: get('CLUSTER_OPS_KUBE_BIN'),
    etcd: get('CLUSTER_OPS_ETCD'),
    kwok: get('CLUSTER_OPS_KWOK'),
    kwokStages: get('CLUSTER_OPS_KWOK_STAGES'),
    kwokCrds: get('CLUSTER_OPS_KWOK_CRDS'),
    crds: get('CLUSTER_OPS_CRDS'),
    victoriaMetrics: get('CLUSTER_OPS_VICTORIA_METRICS'),
    keycloak: get('CLUSTER_OPS_KEYCLOAK'),
    keycloakJavaHome: get('CLUSTER_OPS_KEYCLOAK_JAVA_HOME'),
    fluxSourceController: get('CLUSTER_OPS_FLUX_SOURCE_CONTROLLER'),
    fluxKustomizeController: get('CLUSTER_OPS_FLUX_KUSTOMIZE_CONTROLLER'),
    externalSecrets: get('CLUSTER_OPS_EXTERNAL_SECRETS'),
    jaeger: get('CLUSTER_OPS_JAEGER'),
    chromium: get('CLUSTER_OPS_CHROMIUM'),
  };
}
