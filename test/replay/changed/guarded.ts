// drainNode with a new first step, guarded by patched(): runs started before the change replay without it,
// new runs take it. What docs/architecture.md asks of every change to a workflow's command sequence.
import { patched, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../../../src/activities/index.js';
import { drainNode as released } from '../../../src/workflows/drain-node.js';
import type { DrainNodeInput } from '../../../src/schemas/drain-node.js';

const { listNodes } = proxyActivities<Activities>({ startToCloseTimeout: '1 minute' });

export async function drainNode(input: DrainNodeInput) {
  if (patched('drain-node-reads-the-node-first')) await listNodes({ names: [input.node] });
  return released(input);
}
