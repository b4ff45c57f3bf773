import { readFileSync } from 'node:fs';
import { classifyFailure } from '../../src/domain/nccl/failure-classifier.js';
import type { AttemptObservation, ObservedPod } from '../../src/domain/nccl/failure-classifier.js';

const healthyNodes = [
  { name: 'a', exists: true, ready: true },
  { name: 'b', exists: true, ready: true },
];
const observation = (overrides: Partial<AttemptObservation>): AttemptObservation => ({ nodes: healthyNodes, pods: [], log: '', hung: false, ...overrides });
const pod = (fields: Partial<ObservedPod>): ObservedPod => ({ name: 'job-0', node: 'a', phase: 'Failed', ...fields });
// A real rank 0 log start, so the log rules see NCCL's own INFO lines around the failure.
const realLog = readFileSync('test/fixtures/nccl/nccl-debug-2xDGX-Spark.log', 'utf8');
const ncclFailure = "spark-fb97: Test NCCL failure common.cu:1125 'remote process exited or there was a network error / '\n";

test.each([
  [
    'node NotReady beats the NCCL error it caused',
    { nodes: [healthyNodes[0]!, { name: 'b', exists: true, ready: false }], log: realLog + ncclFailure },
    'node-lost',
    true,
    'node b NotReady',
  ],
  ['node deleted', { nodes: [healthyNodes[0]!, { name: 'b', exists: false, ready: false }] }, 'node-lost', true, 'node b gone'],
  ['pod evicted', { pods: [pod({ reason: 'Evicted', message: 'The node was low on resource: memory.' })] }, 'pod-evicted', true, 'job-0 Evicted'],
  ['pod preempted', { pods: [pod({ disruption: 'PreemptionByScheduler' })] }, 'pod-preempted', true, 'PreemptionByScheduler'],
  [
    'image does not exist',
    { pods: [pod({ phase: 'Pending', waitingReason: 'ErrImagePull', waitingMessage: 'manifest unknown' })] },
    'bad-config',
    false,
    'manifest unknown',
  ],
  [
    'registry flaked',
    { pods: [pod({ phase: 'Pending', waitingReason: 'ImagePullBackOff', waitingMessage: 'i/o timeout' })] },
    'image-pull',
    true,
    'ImagePullBackOff',
  ],
  [
    'missing secret or config map',
    { pods: [pod({ phase: 'Pending', waitingReason: 'CreateContainerConfigError' })] },
    'bad-config',
    false,
    'CreateContainerConfigError',
  ],
  ['command not found', { pods: [pod({ exitCode: 127 })] }, 'bad-config', false, 'exited with 127'],
  [
    'torchrun usage error',
    { pods: [pod({ exitCode: 2 })], log: 'torchrun: error: unrecognized arguments: --bogus\n' },
    'bad-config',
    false,
    'unrecognized arguments',
  ],
  ['hang', { hung: true, log: realLog }, 'hang', true, 'no log progress'],
  ['nccl-tests timeout', { pods: [pod({ exitCode: 4 })], log: `${realLog}spark-fb97: Test timeout\n` }, 'nccl-timeout', true, 'Test timeout'],
  ['NCCL failure', { pods: [pod({ exitCode: 3 })], log: realLog + ncclFailure }, 'nccl-error', true, 'Test NCCL failure common.cu:1125'],
  ['anything else', { pods: [pod({ exitCode: 1 })], log: realLog }, 'unknown', true, 'exited with 1'],
] as const)('%s', (_name, overrides, cause, retryable, detail) => {
  const classification = classifyFailure(observation(overrides as Partial<AttemptObservation>));
  expect(classification).toMatchObject({ cause, retryable });
  expect(classification.detail).toContain(detail);
});

test('node-lost and pod-evicted failures name their nodes (bad-node quarantine counts them); others name none', () => {
  const lost = classifyFailure(observation({ nodes: [healthyNodes[0]!, { name: 'b', exists: true, ready: false }], log: realLog + ncclFailure }));
  expect(lost.nodes).toEqual(['b']);
  expect(classifyFailure(observation({ pods: [pod({ node: 'a', reason: 'Evicted' })] })).nodes).toEqual(['a']);
  expect(classifyFailure(observation({ pods: [pod({ exitCode: 3 })], log: realLog + ncclFailure })).nodes).toBeUndefined();
  expect(classifyFailure(observation({ pods: [pod({ disruption: 'PreemptionByScheduler' })] })).nodes).toBeUndefined();
});
