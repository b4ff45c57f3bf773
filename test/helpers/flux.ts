/** The levels of the cluster's Flux chain as cluster-docs.md draws it (names only). */
export const WILLINGHAM_FLUX_LEVELS = [
  ['namespaces'],
  ['crds'],
  ['base', 'routes'],
  ['operators'],
  ['argo', 'dev-platform', 'messaging', 'network', 'observability', 'security'],
  ['vpa'],
];

/** Drops the namespace from graph ids: flux-system/base → base. */
export const names = (levels: string[][]) => levels.map((level) => level.map((id) => id.split('/').at(-1)!));
