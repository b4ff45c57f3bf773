import type KcAdminClient from '@keycloak/keycloak-admin-client';
import { invalidInput } from '../schemas/validate.js';
import { adminClient, configuredKeycloak } from './keycloak/admin.js';
import type { KeycloakDeps } from './keycloak/admin.js';
import { unlessNotFound } from './kube/clients.js';
import type { KubeClients } from './kube/clients.js';

export type InputTargetKind = 'Node' | 'Namespace' | 'DaemonSet' | 'Kustomization' | 'KeycloakClient';

/** Something a workflow's input names that must exist before the run changes anything. */
export interface InputTarget {
  /** The input field that names it, e.g. input.nodes.1: the failure names it. */
  field: string;
  kind: InputTargetKind;
  /** Namespaced kinds only. */
  namespace?: string;
  /** The object's name; a KeycloakClient's clientId. */
  name: string;
}

const KUSTOMIZATIONS = { group: 'kustomize.toolkit.fluxcd.io', version: 'v1', plural: 'kustomizations' };

export function createInputTargetActivities({ core, apps, custom }: KubeClients, keycloak: KeycloakDeps | undefined) {
  const inCluster = async (read: Promise<unknown>) => ({ exists: (await unlessNotFound(read)) !== undefined, where: 'the cluster' });
  return {
    /**
     * Looks up everything a run's input names, changing nothing, and fails for good (InvalidInput) listing
     * each one that does not exist with its field: a typo then ends the run before its lock, commit or cordon.
     */
    async checkInputTargets({ targets }: { targets: InputTarget[] }): Promise<{ checked: number }> {
      // One admin login for all the clients, and only when there are any.
      let admin: Promise<{ kc: KcAdminClient; realm: string }> | undefined;
      const keycloakAdmin = () => {
        const deps = configuredKeycloak(keycloak);
        admin ??= adminClient(deps).then((kc) => ({ kc, realm: deps.realm }));
        return admin;
      };
      const lookUp = async ({ kind, namespace = '', name }: InputTarget): Promise<{ exists: boolean; where: string }> => {
        switch (kind) {
          case 'Node':
            return inCluster(core.readNode({ name }));
          case 'Namespace':
            return inCluster(core.readNamespace({ name }));
          case 'DaemonSet':
            return inCluster(apps.readNamespacedDaemonSet({ namespace, name }));
          case 'Kustomization':
            return inCluster(custom.getNamespacedCustomObject({ ...KUSTOMIZATIONS, namespace, name }));
          case 'KeycloakClient': {
            const { kc, realm } = await keycloakAdmin();
            return { exists: (await kc.clients.find({ clientId: name })).length > 0, where: `Keycloak realm ${realm}` };
          }
        }
      };
      const answers = await Promise.all(targets.map(lookUp));
      const missing = targets.flatMap((target, i) => {
        const { exists, where } = answers[i]!;
        const what = target.namespace ? `${target.namespace}/${target.name}` : target.name;
        return exists ? [] : [`${target.field}: no ${target.kind} ${what} in ${where}`];
      });
      if (missing.length > 0) throw invalidInput(missing.join('\n'));
      return { checked: targets.length };
    },
  };
}
