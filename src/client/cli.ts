#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import type { Client } from '@temporalio/client';
import { ConfigError, FluxPlanEnv, KubeEnv, loadEnv, TemporalEnv } from '../config.js';
import { FluxSourceMissing } from '../activities/gitops/flux-tree.js';
import { FluxGraphError } from '../domain/flux-graph.js';
import { workflowIdInput } from '../schemas/common.js';
import type { Progress } from '../schemas/progress.js';
import { describeIssues } from '../schemas/validate.js';
import { hasDryRun, workflowCatalog } from '../schemas/workflows.js';
import { UsageError, validateStart } from './usage.js';
import { planFromRepo, planJson, renderPlan } from './flux-plan.js';
import { parseNcclFile } from './nccl-parse.js';
import { renderNodePlan, renderProgress, table } from './render.js';
import { applySchedules, planSchedules } from './schedules.js';

const USAGE = `usage: cluster-ops <command>

  start <workflow> --input <json|@file> [--id <workflow-id>]   start a workflow (input checked first;
                                                                @file: JSON or YAML)
  plan <workflow> --input <json|@file> [--json]                 dry run: per node, the steps, hooks, gates, window
  describe <workflow> --input <json|@file> [--summary]          offline: the plan in Markdown (or the one-line
                                                                summary) that the Temporal UI shows of a run;
                                                                for temporal workflow start --static-details
  progress <workflow-id> [--watch] [--interval <seconds>]       show a run's progress
  send <workflow-id> <command> [argument]                       an operator command (pause, resume, abort,
                                                                approve, rollback, done, retry,
                                                                retryKustomization, skipKustomization);
                                                                prints the run's answer, or why it refused
  cancel <workflow-id>                                          request cancellation
  list [--query <visibility query>] [--limit <n>]               recent runs
  workflows                                                     what can be started
  schedules apply [--file <schedules.yaml>]                     create or update the Temporal Schedules
                                                                of a file (default schedules/schedules.yaml)
  flux plan --repo <dir> [--ref <ref>] [--cluster <name>] [--path <entry folder>] [--strict] [--json]
                                                                the cluster's Flux order, offline: from the
                                                                entry folder (default clusters/<cluster>,
                                                                found when missing) through every spec.path,
                                                                rendered by \`kubectl kustomize\` (KUBECTL);
                                                                --strict: an unknown dependsOn is an error
  nccl parse <file> [--baseline <GB/s>] [--json]                summarize a saved nccl-tests log or -J JSON
                                                                file (exit 1 when the run failed or regressed)
  nccl quarantine list | lift <node>                            nodes ncclJob quarantined (KUBECONFIG); lift
                                                                one once it is repaired

Connection: TEMPORAL_ADDRESS (localhost:7233), TEMPORAL_NAMESPACE (default), TASK_QUEUE (cluster-ops),
TEMPORAL_API_KEY or TEMPORAL_TLS_CERT/TEMPORAL_TLS_KEY/TEMPORAL_TLS_CA.`;

/** JSON, or `@file` holding JSON or YAML (e.g. --input @schedules/oidc-clients.yaml). */
function parseJson(text: string, what: string): unknown {
  const file = text.startsWith('@') ? text.slice(1) : undefined;
  const source = file ? readFile(file) : text;
  const yaml = file !== undefined && /\.ya?ml$/.test(file);
  try {
    return yaml ? (parseYaml(source) as unknown) : JSON.parse(source);
  } catch (error) {
    throw new UsageError(`${what} is not valid ${yaml ? 'YAML' : 'JSON'}: ${(error as Error).message}`);
  }
}

function readFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${path}: ${(error as Error).message}`);
  }
}

function need(value: string | undefined, what: string): string {
  if (!value) throw new UsageError(`missing ${what}\n\n${USAGE}`);
  return value;
}

async function printProgress(client: Client, id: string) {
  const progress = await client.workflow.getHandle(id).query<Progress>('progress');
  console.log(renderProgress(id, progress));
}

async function run(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      input: { type: 'string' },
      id: { type: 'string' },
      watch: { type: 'boolean', default: false },
      interval: { type: 'string', default: '2' },
      query: { type: 'string' },
      limit: { type: 'string', default: '20' },
      repo: { type: 'string' },
      ref: { type: 'string', default: 'HEAD' },
      cluster: { type: 'string', default: 'willingham-k8s' },
      path: { type: 'string' },
      strict: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      summary: { type: 'boolean', default: false },
      baseline: { type: 'string' },
      file: { type: 'string', default: 'schedules/schedules.yaml' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command, ...args] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return;
  }
  if (command === 'workflows') {
    console.log(table([['WORKFLOW', 'WHAT IT DOES'], ...Object.entries(workflowCatalog).map(([name, w]) => [name, w.summary])]));
    return;
  }
  if (command === 'flux') {
    if (args[0] !== 'plan') throw new UsageError(`unknown command "flux ${args[0] ?? ''}"\n\n${USAGE}`);
    const options = { repo: need(values.repo, '--repo'), ref: values.ref!, cluster: values.cluster!, entryPath: values.path, strict: values.strict! };
    // Bad repo content (YAML, graph, kustomize) or a missing ref/entry exits 2 with the message.
    const plan = await planFromRepo({ ...options, kubectl: loadEnv(FluxPlanEnv).KUBECTL }).catch((error: Error) => {
      throw error instanceof FluxGraphError || error instanceof FluxSourceMissing ? new UsageError(error.message) : error;
    });
    console.log(values.json ? JSON.stringify(planJson(plan), null, 2) : renderPlan(plan));
    return;
  }
  if (command === 'nccl') {
    if (args[0] === 'quarantine') {
      // Loaded only here: the other commands do without the Kubernetes client.
      const { quarantineCommand } = await import('./nccl-quarantine.js');
      console.log(await quarantineCommand(args.slice(1), loadEnv(KubeEnv).KUBECONFIG));
      return;
    }
    if (args[0] !== 'parse') throw new UsageError(`unknown command "nccl ${args[0] ?? ''}"\n\n${USAGE}`);
    const { output, ok } = parseNcclFile(readFile(need(args[1], 'log file')), { json: values.json!, baseline: values.baseline });
    console.log(output);
    if (!ok) process.exitCode = 1;
    return;
  }
  if (command === 'describe') {
    const { metadata } = validateStart(need(args[0], 'workflow name'), parseJson(need(values.input, '--input'), '--input'));
    console.log(values.summary ? metadata.staticSummary : metadata.staticDetails);
    return;
  }
  // Checked whole before connecting: a bad entry means no schedule is touched.
  if (command === 'schedules' && args[0] !== 'apply') throw new UsageError(`unknown command "schedules ${args[0] ?? ''}"\n\n${USAGE}`);
  const schedules = command === 'schedules' ? planSchedules(values.file!) : undefined;
  if (command === 'start' || command === 'plan') validateStart(need(args[0], 'workflow name'), parseJson(need(values.input, '--input'), '--input'));
  if (command === 'plan' && !hasDryRun(args[0]!)) throw new UsageError(`${args[0]} has no dry run`);
  const id = values.id === undefined ? undefined : workflowIdInput.safeParse(values.id);
  if (id && !id.success) throw new UsageError(describeIssues(id.error, '--id'));
  if (!['start', 'plan', 'progress', 'send', 'cancel', 'list', 'schedules'].includes(command)) {
    throw new UsageError(`unknown command "${command}"\n\n${USAGE}`);
  }

  const env = loadEnv(TemporalEnv);
  // Loaded only past the checks above: a refused command returns without loading the Temporal client.
  const { connectClient, sendCommand, startWorkflow } = await import('./client.js');
  const { startTracing } = await import('../tracing.js');
  const tracing = startTracing('cluster-ops-cli', env.OTEL_EXPORTER_OTLP_ENDPOINT);
  const client = await connectClient(env, tracing);
  try {
    switch (command) {
      case 'start': {
        const handle = await startWorkflow(client, env.TASK_QUEUE, args[0]!, parseJson(values.input!, '--input'), values.id);
        console.log(`started ${args[0]} ${handle.workflowId} (run ${handle.firstExecutionRunId})`);
        console.log(`follow it: cluster-ops progress ${handle.workflowId} --watch`);
        return;
      }
      case 'plan': {
        const input = { ...(parseJson(values.input!, '--input') as object), dryRun: true };
        const { defaultId } = validateStart(args[0]!, input);
        // Its own id: a plan never takes (or waits for) the lock a real run holds.
        const handle = await startWorkflow(client, env.TASK_QUEUE, args[0]!, input, `${defaultId}-plan-${Date.now().toString(36)}`);
        const { plan } = (await handle.result()) as { plan: unknown };
        console.log(values.json ? JSON.stringify(plan, null, 2) : renderNodePlan(plan));
        return;
      }
      case 'progress': {
        const id = need(args[0], 'workflow id');
        if (!values.watch) return await printProgress(client, id);
        const intervalMs = Math.max(Number(values.interval) || 2, 0.5) * 1000;
        for (;;) {
          console.clear();
          await printProgress(client, id);
          const { status } = await client.workflow.getHandle(id).describe();
          if (status.name !== 'RUNNING') return console.log(`run ${status.name.toLowerCase()}`);
          await delay(intervalMs);
        }
      }
      case 'send': {
        // Every command's argument is one string (a node, a Kustomization, a reason): taken as typed.
        const answer = await sendCommand(client, need(args[0], 'workflow id'), need(args[1], 'command'), args[2]);
        console.log(answer);
        return;
      }
      case 'cancel': {
        const id = need(args[0], 'workflow id');
        await client.workflow.getHandle(id).cancel();
        console.log(`cancellation requested for ${id}`);
        return;
      }
      case 'schedules': {
        for (const { id, action } of await applySchedules(client, env.TASK_QUEUE, schedules!)) console.log(`${action} schedule ${id}`);
        return;
      }
      case 'list': {
        const rows: string[][] = [['WORKFLOW ID', 'TYPE', 'STATUS', 'STARTED']];
        for await (const run of client.workflow.list({ query: values.query, pageSize: Number(values.limit) })) {
          rows.push([run.workflowId, run.type, run.status.name, run.startTime.toISOString()]);
          if (rows.length > Number(values.limit)) break;
        }
        console.log(rows.length === 1 ? 'no workflow runs' : table(rows));
        return;
      }
    }
  } finally {
    await client.connection.close();
    // Sends the spans still in the batch: the process exits right after.
    await tracing?.shutdown();
  }
}

async function explain(error: unknown): Promise<{ message: string; code: number }> {
  if (error instanceof UsageError || error instanceof ConfigError) return { message: error.message, code: 2 };
  const { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } = await import('@temporalio/client');
  const { CommandRefused } = await import('./client.js');
  if (error instanceof WorkflowNotFoundError) return { message: `no such workflow: ${error.workflowId}`, code: 1 };
  if (error instanceof CommandRefused) return { message: error.message, code: 1 };
  if (error instanceof WorkflowExecutionAlreadyStartedError) {
    return { message: `a ${error.workflowType} run with id ${error.workflowId} is already running; pass --id to start another`, code: 1 };
  }
  const message = error instanceof Error ? error.message : String(error);
  if (/connect|ECONNREFUSED|UNAVAILABLE|deadline/i.test(message)) {
    return { message: `cannot reach Temporal at ${process.env.TEMPORAL_ADDRESS ?? 'localhost:7233'}: ${message}`, code: 1 };
  }
  return { message, code: 1 };
}

run(process.argv.slice(2)).catch(async (error: unknown) => {
  const { message, code } = await explain(error);
  console.error(`cluster-ops: ${message}`);
  process.exit(code);
});
