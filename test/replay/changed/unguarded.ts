// The same change without patched(): a run recorded before it no longer replays.
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../../../src/activities/index.js';
import { drainNode as released } from '../../../src/workflows/drain-node.js';
import type { DrainNodeInput } from '../../../src/schemas/drain-node.js';

const { listNodes } = proxyActivities<Activities>({ startToCloseTimeout: '1 minute' });

export async function drainNode(input: DrainNodeInput) {
  await listNodes({ names: [input.node] });
  return released(input);
}
