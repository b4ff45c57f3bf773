import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { SimpleGit } from 'simple-git';
import { LineCounter, parse as parseYaml, parseAllDocuments, stringify } from 'yaml';
import { buildGraph, FluxGraphError, isFluxKustomization, located, toKustomization } from '../../domain/flux-graph.js';
import type { FluxGraph, Kustomization } from '../../domain/flux-graph.js';
import { postBuildVariables, substitute, SUBSTITUTE_DISABLED, SubstitutionError, variablesOf } from '../../domain/flux-postbuild.js';
import type { PostBuild, SubstituteFromRef } from '../../domain/flux-postbuild.js';

/**
 * Reads the Flux graph of one cluster from a GitOps repo at a ref, the way kustomize-controller
 * would build it: from the cluster's entry folder, each Kustomization's spec.path is rendered with a real
 * kustomize (Flux generates a kustomization.yaml where a folder has none, and applies targetNamespace,
 * patches and postBuild substitution), and the Kustomizations in that output are its children.
 */

/** Renders a folder holding a kustomization file; throws KustomizeError when kustomize rejects it. */
export type RenderKustomize = (dir: string) => Promise<string>;

export class KustomizeError extends Error {
  override name = 'KustomizeError';
}

/** What the reader was asked to read is not in the repo: the ref, or the cluster's entry folder. */
export class FluxSourceMissing extends Error {
  override name = 'FluxSourceMissing';
}

const run = promisify(execFile);

/** `kubectl kustomize`, with Flux's load restrictions (files outside the folder may be referenced). */
export function kubectlKustomize(kubectl = 'kubectl'): RenderKustomize {
  return async (dir) => {
    try {
      return (await run(kubectl, ['kustomize', '--load-restrictor=LoadRestrictionsNone', dir], { maxBuffer: 256 * 1024 * 1024 })).stdout;
    } catch (error) {
      const { stderr } = error as { stderr?: string };
      if (typeof stderr === 'string' && stderr.trim()) throw new KustomizeError(stderr.trim());
      throw error;
    }
  };
}

export interface FluxTreeInput {
  /** A commit, branch or tag of the repo. */
  ref: string;
  cluster: string;
  /** The cluster's entry folder; default clusters/<cluster>, discovered when that is missing. */
  entryPath?: string;
  render: RenderKustomize;
  /** The GitRepository the entry comes from: only Kustomizations of this source are followed. */
  source?: { namespace: string; name: string };
}

export interface FluxEntry {
  path: string;
  how: 'given' | 'default' | 'discovered';
}

export interface FluxTree {
  entry: FluxEntry;
  /** Every Kustomization found, duplicates included (buildGraph names them). */
  nodes: Kustomization[];
  warnings: string[];
}

/** The entry, and the graph with the reader's warnings ahead of the graph's own. */
export async function readFluxGraphAt(git: SimpleGit, input: FluxTreeInput & { strict?: boolean }): Promise<{ entry: FluxEntry; graph: FluxGraph }> {
  const tree = await readFluxTree(git, input);
  const graph = buildGraph(tree.nodes, { strict: input.strict });
  return { entry: tree.entry, graph: { ...graph, warnings: [...tree.warnings, ...graph.warnings] } };
}

export async function readFluxTree(git: SimpleGit, input: FluxTreeInput): Promise<FluxTree> {
  // --quiet: an unknown ref gives no output (simple-git does not always report the exit status).
  const commit = (await git.raw(['rev-parse', '--verify', '--quiet', `${input.ref}^{commit}`]).catch(() => '')).trim();
  if (!commit) throw new FluxSourceMissing(`${input.ref} is not a commit, branch or tag of the GitOps repository`);
  const entry = await resolveEntry(git, commit, input);
  const scratch = mkdtempSync(join(tmpdir(), 'flux-tree-'));
  try {
    const root = join(scratch, 'tree');
    mkdirSync(root);
    // kustomize reads files from disk: the tree at the commit, without touching any work tree.
    await git.raw(['archive', '--format=tar', '-o', join(scratch, 'tree.tar'), commit]);
    await run('tar', ['-xf', join(scratch, 'tree.tar'), '-C', root]);
    const walk = new FluxWalk(root, input.ref, input.render, input.source ?? { namespace: 'flux-system', name: 'flux-system' });
    await walk.run(entry.path);
    return { entry, nodes: walk.nodes, warnings: walk.warnings };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** A repo path as Flux resolves spec.path: relative to the source root, `./` and trailing `/` dropped. */
function repoFolder(path: string): string {
  const normalised = posix
    .normalize(path.trim() || '.')
    .replace(/^\.\/?/, '')
    .replace(/\/$/, '');
  if (normalised === '..' || normalised.startsWith('../')) throw new FluxGraphError(`path ${path} leaves the repository`);
  return normalised;
}

/** Where Flux starts for a cluster: the given folder, else clusters/<cluster>, else what the repo shows. */
async function resolveEntry(git: SimpleGit, commit: string, { ref, cluster, entryPath }: FluxTreeInput): Promise<FluxEntry> {
  const files = (await git.raw(['ls-tree', '-r', '--name-only', commit])).split('\n').filter(Boolean);
  const folders = new Set(
    files.flatMap((file) =>
      file
        .split('/')
        .slice(0, -1)
        .map((_, i, parts) => parts.slice(0, i + 1).join('/')),
    ),
  );
  const isFolder = (path: string) => path === '' || folders.has(path);
  if (entryPath !== undefined) {
    const path = repoFolder(entryPath);
    if (!isFolder(path)) throw new FluxSourceMissing(`entry folder ${path} does not exist at ${ref}`);
    return { path, how: 'given' };
  }
  const fallback = `clusters/${cluster}`;
  if (isFolder(fallback)) return { path: fallback, how: 'default' };

  // A flux bootstrap's own Kustomization (flux-system) points at the entry; other layouts use */flux/cluster.
  const grep = await git.raw(['grep', '-l', '-e', 'flux-system', commit, '--', '*.yaml', '*.yml']).catch(() => '');
  const bootstrapPaths = grep
    .split('\n')
    .filter(Boolean)
    .flatMap((line) => fluxSystemPaths(git, commit, line.slice(commit.length + 1)));
  const candidates = [...new Set([...(await Promise.all(bootstrapPaths)).flat(), ...[...folders].filter((f) => /(^|\/)flux\/cluster$/.test(f))])]
    .filter(isFolder)
    .sort();
  const forCluster = candidates.filter((path) => path.split('/').includes(cluster));
  const chosen = forCluster.length ? forCluster : candidates;
  if (chosen.length === 1) return { path: chosen[0]!, how: 'discovered' };
  if (chosen.length === 0) {
    throw new FluxSourceMissing(
      `no ${fallback} at ${ref}, and no other cluster entry found (the flux-system Kustomization's path, or a */flux/cluster folder): pass the entry folder`,
    );
  }
  throw new FluxSourceMissing(`no ${fallback} at ${ref}, and several cluster entries: ${chosen.join(', ')}; pass one of them as the entry folder`);
}

async function fluxSystemPaths(git: SimpleGit, commit: string, file: string): Promise<string[]> {
  const docs = parseAllDocuments(await git.show([`${commit}:${file}`]));
  return (Array.isArray(docs) ? docs : [])
    .filter((doc) => doc.errors.length === 0)
    .map((doc) => doc.toJS() as RawObject | null)
    .filter((raw) => isFluxKustomization(raw) && raw?.metadata?.name === 'flux-system' && typeof raw.spec?.path === 'string')
    .flatMap((raw) => {
      try {
        return [repoFolder(raw!.spec!.path as string)];
      } catch {
        return [];
      }
    });
}

interface RawObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown> & {
    path?: string;
    targetNamespace?: string;
    patches?: unknown[];
    postBuild?: PostBuild;
    sourceRef?: { kind?: string; name?: string; namespace?: string };
  };
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  sops?: unknown;
}

/** What applies a folder: the entry (no Kustomization), or a Kustomization found in a rendered folder. */
interface Applier {
  node?: Kustomization;
  raw?: RawObject;
  folder: string;
  /** Namespace for rendered objects that name none. */
  namespace: string;
}

const KUSTOMIZATION_FILES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'];
const isYamlFile = (name: string) => /\.ya?ml$/.test(name);
const isRemote = (entry: string) => /^[a-z]+:\/\/|^github\.com\/|^git@/.test(entry);
const objectKey = (kind: string, namespace: string, name: string) => `${kind}/${namespace}/${name}`;

class FluxWalk {
  readonly nodes: Kustomization[] = [];
  readonly warnings: string[] = [];
  private readonly parsed = new Set<string>();
  private readonly definitions: { file: string; line: number; name: string; namespace?: string }[] = [];
  /** ConfigMaps and Secrets in what was rendered so far, for substituteFrom; undefined: SOPS-encrypted. */
  private readonly variableSources = new Map<string, Record<string, string> | undefined>();

  constructor(
    private readonly root: string,
    private readonly ref: string,
    private readonly render: RenderKustomize,
    private readonly source: { namespace: string; name: string },
  ) {}

  async run(entry: string) {
    const seen = new Set<string>();
    let queue: Applier[] = [{ folder: entry, namespace: this.source.namespace }];
    let waiting: Applier[] = [];
    let lastPass = false;
    while (queue.length) {
      const applier = queue.shift()!;
      const missing = this.missingSources(applier);
      // A ConfigMap for substituteFrom may come from a folder not rendered yet: come back to it.
      if (missing.length && !lastPass) {
        waiting.push(applier);
      } else {
        for (const ref of missing) {
          this.warnings.push(
            `${located(applier.node!)}: substituteFrom ${ref.kind} ${applier.namespace}/${ref.name} is not in the repo; substituted without it`,
          );
        }
        for (const child of await this.apply(applier)) {
          if (seen.has(child.node!.id)) continue;
          seen.add(child.node!.id);
          queue.push(child);
        }
      }
      if (!queue.length && waiting.length) {
        const ready = waiting.filter((held) => this.missingSources(held).length === 0);
        lastPass = ready.length === 0;
        queue = lastPass ? waiting : ready;
        waiting = lastPass ? [] : waiting.filter((held) => !ready.includes(held));
      }
    }
  }

  private missingSources(applier: Applier): SubstituteFromRef[] {
    const refs = applier.raw?.spec?.postBuild?.substituteFrom ?? [];
    return refs.filter((ref) => !ref.optional && !this.variableSources.has(objectKey(ref.kind, applier.namespace, ref.name)));
  }

  /** Renders what the applier applies; returns the Kustomizations in it that are to be followed. */
  private async apply(applier: Applier): Promise<Applier[]> {
    const dir = join(this.root, applier.folder);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) {
      throw new FluxGraphError(`${located(applier.node!)}: spec.path ${applier.node!.path} is not a folder at ${this.ref}`);
    }
    const vars = this.variables(applier);
    const objects = (await this.build(applier)).map((object) => (vars && !substitutionDisabled(object) ? this.substituted(object, vars, applier) : object));

    const children: Applier[] = [];
    const found: Kustomization[] = [];
    let entryOwner: Kustomization | undefined;
    for (const object of objects) {
      const namespace = object.metadata?.namespace ?? applier.namespace;
      if (object.kind === 'ConfigMap' || object.kind === 'Secret') {
        this.variableSources.set(objectKey(object.kind, namespace, object.metadata?.name ?? ''), object.sops ? undefined : variablesOf(object));
      }
      if (!isFluxKustomization(object)) continue;
      const node = { ...toKustomization(object as Parameters<typeof toKustomization>[0], namespace), createdBy: applier.node?.id };
      const source = this.definitionOf(object, applier, vars);
      if (source) node.source = source;
      if (!object.metadata?.namespace) this.warnings.push(`${located(node)} names no namespace (Flux refuses to apply it); taken as ${namespace}`);
      this.nodes.push(node);
      found.push(node);

      const folder = repoFolderOf(node);
      // flux bootstrap: the entry holds the Kustomization that applies the entry, itself included.
      if (!applier.node && folder === applier.folder) {
        entryOwner = node;
        continue;
      }
      const ref = object.spec?.sourceRef;
      const fromEntrySource = ref?.kind === 'GitRepository' && ref.name === this.source.name && (ref.namespace ?? node.namespace) === this.source.namespace;
      if (fromEntrySource) children.push({ node, raw: object, folder, namespace: node.namespace });
      else
        this.warnings.push(
          `${located(node)}: not followed, its source is ${ref?.kind ?? '?'} ${ref?.namespace ?? node.namespace}/${ref?.name ?? '?'}, not GitRepository ${this.source.namespace}/${this.source.name}`,
        );
    }
    for (const node of found) if (entryOwner && node !== entryOwner) node.createdBy = entryOwner.id;
    return children;
  }

  private variables(applier: Applier): Record<string, string> | undefined {
    const postBuild = applier.raw?.spec?.postBuild;
    if (!postBuild) return undefined;
    try {
      const vars = postBuildVariables(postBuild, (ref) => {
        const key = objectKey(ref.kind, applier.namespace, ref.name);
        const found = this.variableSources.get(key);
        if (this.variableSources.has(key) && !found)
          this.warnings.push(`${located(applier.node!)}: ${ref.kind} ${applier.namespace}/${ref.name} is SOPS-encrypted; its values are unknown here`);
        return found ?? {};
      });
      // As in Flux: with no variables at all, nothing is substituted (defaults included).
      return Object.keys(vars).length ? vars : undefined;
    } catch (error) {
      if (error instanceof SubstitutionError) throw new FluxGraphError(`${located(applier.node!)}: ${error.message}`);
      throw error;
    }
  }

  private substituted(object: RawObject, vars: Record<string, string>, applier: Applier): RawObject {
    try {
      return parseYaml(substitute(stringify(object), vars)) as RawObject;
    } catch (error) {
      throw new FluxGraphError(
        `${located(applier.node!)}: postBuild substitution made ${object.kind} ${object.metadata?.name} invalid YAML: ${(error as Error).message.split('\n')[0]}`,
      );
    }
  }

  /** Where a rendered Kustomization is written in the repo: same name (after substitution), nearest the folder. */
  private definitionOf(object: RawObject, applier: Applier, vars: Record<string, string> | undefined) {
    const resolved = (text: string) => (vars ? substitute(text, vars) : text);
    const matches = this.definitions.filter(
      (d) => resolved(d.name) === object.metadata?.name && (d.namespace === undefined || resolved(d.namespace) === object.metadata?.namespace),
    );
    const found = matches.find((d) => applier.folder === '' || d.file.startsWith(`${applier.folder}/`)) ?? matches[0];
    return found && { file: found.file, line: found.line };
  }

  /**
   * kustomize build of the applier's folder, as kustomize-controller runs it: a kustomization.yaml is
   * generated where there is none, and the Kustomization's targetNamespace and patches are added to it
   * for this build only.
   */
  private async build(applier: Applier): Promise<RawObject[]> {
    const dir = join(this.root, applier.folder);
    const existing = KUSTOMIZATION_FILES.map((name) => join(dir, name)).find(isFile);
    const generated = this.check(dir);
    const file = existing ?? join(dir, 'kustomization.yaml');
    const original = existing ? readFileSync(existing, 'utf8') : undefined;
    const kustomization = (
      original === undefined ? { apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', resources: generated } : (parseYaml(original) ?? {})
    ) as Record<string, unknown>;
    const spec = applier.raw?.spec;
    if (spec?.targetNamespace) kustomization.namespace = spec.targetNamespace;
    if (spec?.patches?.length) kustomization.patches = [...((kustomization.patches as unknown[]) ?? []), ...spec.patches];
    const changed = original === undefined || Boolean(spec?.targetNamespace || spec?.patches?.length);
    if (changed) writeFileSync(file, stringify(kustomization));
    let output: string;
    try {
      output = await this.render(dir);
    } catch (error) {
      if (!(error instanceof KustomizeError)) throw error;
      const by = applier.node ? `spec.path of ${located(applier.node)}` : 'the entry';
      throw new FluxGraphError(`kustomize build of ${applier.folder || '.'} (${by}) failed: ${error.message}`);
    } finally {
      // Flux cleans up too: a generated file must not turn the folder into a base for other builds.
      if (original === undefined) unlinkSync(file);
      else if (changed) writeFileSync(file, original);
    }
    return parseAllDocuments(output)
      .map((doc) => doc.toJS() as RawObject | null)
      .filter((object): object is RawObject => Boolean(object));
  }

  /**
   * Parses every YAML file kustomize will read for dir, so a syntax error names its file and line
   * (kustomize's own message names neither reliably). Returns the resources Flux would generate a
   * kustomization.yaml with when dir has none: every YAML file below it, a subfolder with its own
   * kustomization file as one entry.
   */
  private check(dir: string): string[] {
    const existing = KUSTOMIZATION_FILES.map((name) => join(dir, name)).find(isFile);
    if (existing) {
      const kustomization = (this.parse(existing)[0] ?? {}) as Record<string, unknown>;
      const entries = ['resources', 'components', 'bases'].flatMap((field) => (Array.isArray(kustomization[field]) ? (kustomization[field] as unknown[]) : []));
      const patches = Array.isArray(kustomization.patches) ? (kustomization.patches as { path?: unknown }[]).map((p) => p?.path) : [];
      for (const entry of [...entries, ...patches]) {
        if (typeof entry !== 'string' || isRemote(entry)) continue;
        const target = resolve(dir, entry);
        if (!existsSync(target)) continue; // kustomize reports it, with the folder
        if (statSync(target).isDirectory()) this.check(target);
        else if (isYamlFile(target)) this.parse(target);
      }
      return [];
    }
    const resources: string[] = [];
    const scan = (folder: string) => {
      // Dot entries (.github, .sops.yaml …) stand for what source-controller leaves out of the artifact.
      for (const entry of readdirSync(folder, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
        if (entry.name.startsWith('.')) continue;
        const path = join(folder, entry.name);
        if (entry.isDirectory()) {
          if (KUSTOMIZATION_FILES.some((name) => isFile(join(path, name)))) {
            resources.push(`./${relative(dir, path)}`);
            this.check(path);
          } else {
            scan(path);
          }
        } else if (isYamlFile(entry.name)) {
          this.parse(path);
          resources.push(`./${relative(dir, path)}`);
        }
      }
    };
    scan(dir);
    return resources;
  }

  /** The documents of a YAML file; notes where each Flux Kustomization is written. */
  private parse(path: string): unknown[] {
    const file = relative(this.root, path);
    const lineCounter = new LineCounter();
    const docs = parseAllDocuments(readFileSync(path, 'utf8'), { lineCounter });
    const list = Array.isArray(docs) ? docs : [];
    const error = list.flatMap((doc) => doc.errors)[0];
    if (error) {
      const at = error.linePos?.[0];
      throw new FluxGraphError(
        `${file}:${at ? `${at.line}:${at.col}` : '?'}: YAML syntax error: ${error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`,
      );
    }
    const values = list.map((doc) => doc.toJS() as unknown);
    if (!this.parsed.has(file)) {
      this.parsed.add(file);
      list.forEach((doc, i) => {
        const raw = values[i] as RawObject | null;
        if (!isFluxKustomization(raw) || typeof raw?.metadata?.name !== 'string') return;
        const line = lineCounter.linePos(doc.contents?.range[0] ?? 0).line;
        this.definitions.push({ file, line, name: raw.metadata.name, namespace: raw.metadata.namespace });
      });
    }
    return values;
  }
}

const isFile = (path: string) => existsSync(path) && statSync(path).isFile();
const substitutionDisabled = (object: RawObject) =>
  object.metadata?.labels?.[SUBSTITUTE_DISABLED.key] === SUBSTITUTE_DISABLED.value ||
  object.metadata?.annotations?.[SUBSTITUTE_DISABLED.key] === SUBSTITUTE_DISABLED.value;

function repoFolderOf(node: Kustomization): string {
  try {
    return repoFolder(node.path);
  } catch (error) {
    throw new FluxGraphError(`${located(node)}: spec.${(error as Error).message}`);
  }
}
