import { parseAllDocuments } from 'yaml';
import type { Document } from 'yaml';

/**
 * The VF setup as the GitOps repo holds it: the SR-IOV DaemonSet's init container env (NUM_VFS, VF_MTU)
 * and the device plugin's pfNames range ("<pf>#0-3") in its ConfigMap. Pure text in, text out;
 * comments and layout of the file survive an edit.
 */
export interface VfConfig {
  numVfs: number;
  mtu: number;
}

export const SRIOV_INIT_CONTAINER = 'create-vfs';

export class VfConfigError extends Error {
  override name = 'VfConfigError';
}

type Env = { name: string; value?: string }[];

function findDocs(text: string) {
  const docs = parseAllDocuments(text);
  const kind = (doc: Document) => doc.get('kind');
  const daemonSet = docs.find((doc) => kind(doc as Document) === 'DaemonSet') as Document | undefined;
  const configMap = docs.find((doc) => kind(doc as Document) === 'ConfigMap') as Document | undefined;
  if (!daemonSet) throw new VfConfigError('no DaemonSet in the VF config file');
  if (!configMap) throw new VfConfigError('no ConfigMap (device plugin config) in the VF config file');
  const initContainers = (daemonSet.getIn(['spec', 'template', 'spec', 'initContainers']) as { toJSON(): { name: string }[] } | undefined)?.toJSON() ?? [];
  const index = initContainers.findIndex((c) => c.name === SRIOV_INIT_CONTAINER);
  if (index < 0) throw new VfConfigError(`the DaemonSet has no init container "${SRIOV_INIT_CONTAINER}"`);
  return { docs, daemonSet, configMap, envPath: ['spec', 'template', 'spec', 'initContainers', index, 'env'] };
}

export function readVfConfig(text: string): VfConfig {
  const { daemonSet, envPath } = findDocs(text);
  const env = ((daemonSet.getIn(envPath) as { toJSON(): Env } | undefined)?.toJSON() ?? []) as Env;
  const value = (name: string) => {
    const found = Number(env.find((e) => e.name === name)?.value);
    if (!Number.isInteger(found) || found <= 0) throw new VfConfigError(`init container env ${name} is missing or not a positive integer`);
    return found;
  };
  return { numVfs: value('NUM_VFS'), mtu: value('VF_MTU') };
}

export function writeVfConfig(text: string, desired: VfConfig): { text: string; previous: VfConfig; changed: boolean } {
  const previous = readVfConfig(text);
  const { docs, daemonSet, configMap, envPath } = findDocs(text);
  const env = ((daemonSet.getIn(envPath) as { toJSON(): Env }).toJSON() ?? []) as Env;
  env.forEach((entry, i) => {
    if (entry.name === 'NUM_VFS') daemonSet.setIn([...envPath, i, 'value'], String(desired.numVfs));
    if (entry.name === 'VF_MTU') daemonSet.setIn([...envPath, i, 'value'], String(desired.mtu));
  });
  const pluginConfig = configMap.getIn(['data', 'config.json']);
  if (typeof pluginConfig !== 'string') throw new VfConfigError('the ConfigMap has no data."config.json"');
  const range = `#0-${desired.numVfs - 1}`;
  const updated = pluginConfig.replace(/#\d+-\d+/g, range);
  if (!/#\d+-\d+/.test(pluginConfig)) throw new VfConfigError('config.json has no pfNames range like "<pf>#0-3"');
  configMap.setIn(['data', 'config.json'], updated);
  const out = docs.map((doc) => doc.toString({ lineWidth: 0 })).join('');
  const changed = previous.numVfs !== desired.numVfs || previous.mtu !== desired.mtu || updated !== pluginConfig;
  return { text: changed ? out : text, previous, changed };
}
