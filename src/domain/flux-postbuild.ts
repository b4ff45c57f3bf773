/**
 * Flux's postBuild variable substitution, as kustomize-controller runs it on each rendered object:
 * `${VAR}`, `${VAR:=default}` / `${VAR:-default}` (unset or empty), `${VAR=default}` / `${VAR-default}`
 * (unset), `$${VAR}` for a literal `${VAR}`. Pure.
 */
export interface SubstituteFromRef {
  kind: 'ConfigMap' | 'Secret';
  name: string;
  optional?: boolean;
}

export interface PostBuild {
  substitute?: Record<string, string>;
  substituteFrom?: SubstituteFromRef[];
}

/** An object marked like this is left as it is (label or annotation). */
export const SUBSTITUTE_DISABLED = { key: 'kustomize.toolkit.fluxcd.io/substitute', value: 'disabled' };

const VARIABLE_NAME = /^[_a-zA-Z][_a-zA-Z0-9]*$/;
const REFERENCE = /\$\$|\$\{([_a-zA-Z][_a-zA-Z0-9]*)(?:(:?[=-])([^}]*))?\}/g;

export class SubstitutionError extends Error {
  override name = 'SubstitutionError';
}

export function substitute(text: string, vars: Record<string, string>): string {
  return text.replace(REFERENCE, (match, name: string | undefined, operator: string | undefined, fallback: string | undefined) => {
    if (match === '$$') return '$';
    const value = vars[name!];
    if (operator === undefined) return value ?? '';
    const useFallback = operator.startsWith(':') ? !value : value === undefined;
    return useFallback ? fallback! : value!;
  });
}

/**
 * The variables Flux takes from the objects named in substituteFrom (later ones win) and then from
 * substitute (which wins over all). Newlines are dropped from values, as Flux does.
 */
export function postBuildVariables(postBuild: PostBuild, lookup: (ref: SubstituteFromRef) => Record<string, string>): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const ref of postBuild.substituteFrom ?? []) Object.assign(vars, lookup(ref));
  Object.assign(vars, postBuild.substitute ?? {});
  const invalid = Object.keys(vars).filter((name) => !VARIABLE_NAME.test(name));
  if (invalid.length) throw new SubstitutionError(`invalid variable names (must match ${VARIABLE_NAME.source}): ${invalid.join(', ')}`);
  return Object.fromEntries(Object.entries(vars).map(([name, value]) => [name, String(value).replaceAll('\n', '')]));
}

/** A ConfigMap's data, or a Secret's data (base64) and stringData, as variables. */
export function variablesOf(object: { kind?: string; data?: Record<string, string>; stringData?: Record<string, string> }): Record<string, string> {
  if (object.kind === 'Secret') {
    // eslint-disable-next-line no-restricted-globals -- only activities call this (gitops/flux-tree.ts); a workflow could not: the sandbox has no Buffer
    const decoded = Object.entries(object.data ?? {}).map(([key, value]) => [key, Buffer.from(String(value), 'base64').toString('utf8')]);
    return { ...Object.fromEntries(decoded), ...(object.stringData ?? {}) };
  }
  return { ...(object.data ?? {}) };
}
