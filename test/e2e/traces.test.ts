import { Client, Connection } from '@temporalio/client';
import { SPAN_ATTRIBUTES } from '../../src/domain/span-attributes.js';
import { runCli } from '../helpers/cli.js';
import { testEnv } from '../helpers/env.js';
import { eventually, TestCluster, uniqueName } from '../helpers/kube.js';
import { spawnBuiltWorker } from '../helpers/temporal.js';

// A two-node maintenance run started by the built CLI and served by the built worker, each exporting its spans
// to the run's real Jaeger over OTLP: the run's whole span tree comes back through Jaeger's query API.

/** A span as Jaeger's query API (/api/traces) returns it. */
interface JaegerSpan {
  spanID: string;
  operationName: string;
  processID: string;
  references: { refType: string; spanID: string }[];
  tags: { key: string; value: unknown }[];
}
interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string }>;
}

/** What a node's maintenance runs on workers: its drain child, and the activities of both. */
const NODE_STEPS = [
  'RunWorkflow:drainNode',
  'RunActivity:planNodeDrain',
  'RunActivity:cordonNode',
  'RunActivity:drainPass',
  'RunActivity:waitForNode',
  'RunActivity:nodeIdentity',
  'RunActivity:uncordonNode',
];

let cluster: TestCluster;
let client: Client;

beforeAll(async () => {
  cluster = await TestCluster.create('traces');
  client = new Client({ connection: await Connection.connect({ address: testEnv('temporalAddress') }) });
});
afterAll(async () => {
  await client?.connection.close();
  await cluster?.close();
});

/** The trace whose client span started `workflowId`, once it holds `complete` (spans arrive in batches). */
async function traceOf(workflowId: string, complete: (trace: JaegerTrace) => boolean): Promise<JaegerTrace> {
  const query = new URLSearchParams({ service: 'cluster-ops-cli', tags: JSON.stringify({ temporalWorkflowId: workflowId }) });
  return eventually(
    async () => {
      const response = await fetch(`${testEnv('jaegerQuery')}/api/traces?${query}`);
      if (!response.ok) throw new Error(`Jaeger answered ${response.status}: ${await response.text()}`);
      const { data } = (await response.json()) as { data: JaegerTrace[] };
      return data.length === 1 && complete(data[0]!) && data[0];
    },
    `the trace of ${workflowId} in Jaeger`,
    60_000,
  );
}

test('client → run → per-node children → their activities, one trace in Jaeger, each per-node span naming its node', async () => {
  const nodes = [await cluster.addNode(), await cluster.addNode()];
  const taskQueue = uniqueName('traces');
  const workflowId = uniqueName('maint');
  const tracing = { TASK_QUEUE: taskQueue, OTEL_EXPORTER_OTLP_ENDPOINT: testEnv('jaegerOtlp') };
  const worker = spawnBuiltWorker(taskQueue, tracing);
  worker.stdout!.resume();
  const exited = new Promise((resolve) => worker.once('exit', resolve));
  try {
    const input = {
      cluster: uniqueName('lab'),
      nodes,
      reason: 'traces',
      until: 'duration',
      durationSeconds: 1,
      settleSeconds: 0,
      healthGate: { fluxNamespace: '' },
    };
    expect(await runCli(['start', 'nodeMaintenance', '--input', JSON.stringify(input), '--id', workflowId], tracing)).toMatchObject({ code: 0 });
    expect(await client.workflow.getHandle(workflowId).result()).toMatchObject({ outcome: 'completed' });
  } finally {
    // A graceful stop sends the spans still in the worker's batch.
    worker.kill('SIGTERM');
    await exited;
  }

  // The run's span ends last, with the run; the uncordons end each child.
  const ended = (t: JaegerTrace, operation: string) => t.spans.filter((span) => span.operationName === operation).length;
  const trace = await traceOf(workflowId, (t) => ended(t, 'RunWorkflow:nodeMaintenance') === 1 && ended(t, 'RunActivity:uncordonNode') === nodes.length);
  const byId = new Map(trace.spans.map((span) => [span.spanID, span]));
  const parentOf = (span: JaegerSpan) => byId.get(span.references.find((r) => r.refType === 'CHILD_OF')?.spanID ?? '');
  const ancestors = (span: JaegerSpan): JaegerSpan[] => {
    const parent = parentOf(span);
    return parent ? [parent, ...ancestors(parent)] : [];
  };
  const service = (span: JaegerSpan) => trace.processes[span.processID]?.serviceName;
  const tag = (span: JaegerSpan, key: string) => span.tags.find((t) => t.key === key)?.value;
  const named = (operation: string) => trace.spans.filter((span) => span.operationName === operation);
  const one = (operation: string) => {
    const [span, ...more] = named(operation);
    expect([operation, more.length]).toEqual([operation, 0]);
    return span!;
  };

  // Nothing lost its parent: every span but the client's start hangs in the tree.
  const roots = trace.spans.filter((span) => !parentOf(span));
  expect(roots.map((span) => [span.operationName, service(span)])).toEqual([['StartWorkflow:nodeMaintenance', 'cluster-ops-cli']]);
  const run = one('RunWorkflow:nodeMaintenance');
  expect(service(run)).toBe('cluster-ops-worker');
  expect(ancestors(run)).toContain(roots[0]);
  expect(ancestors(one('RunActivity:acquireRollingLock'))).toContain(run);

  const children = named('RunWorkflow:maintenanceNode');
  expect(children.map((child) => tag(child, SPAN_ATTRIBUTES.node)).sort()).toEqual([...nodes].sort());
  for (const child of children) {
    expect(ancestors(child)).toContain(run);
    const node = tag(child, SPAN_ATTRIBUTES.node);
    const underChild = trace.spans.filter((span) => ancestors(span).includes(child));
    // The node's steps, in its child and in the child's drain child, each name the node; nothing under it names
    // another (recordParsedInput, the child's input recorded at its start, names none).
    for (const operation of NODE_STEPS) {
      const spans = underChild.filter((span) => span.operationName === operation);
      expect([operation, spans.length > 0, spans.map((span) => tag(span, SPAN_ATTRIBUTES.node))]).toEqual([operation, true, spans.map(() => node)]);
    }
    expect(underChild.filter((span) => ![undefined, node].includes(tag(span, SPAN_ATTRIBUTES.node)))).toEqual([]);
  }
}, 180_000);
