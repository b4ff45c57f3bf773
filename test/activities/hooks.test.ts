import { HookInput } from '../../src/schemas/rolling.js';
import { clusterForActivities } from '../helpers/kube.js';
import { activityRunner } from '../helpers/temporal.js';
import { FailureType } from '../../src/failures.js';

const run = activityRunner();
const k8s = clusterForActivities('hooks');

/** KWOK's chaos stage fails a pod carrying this label, with the annotation's text as its termination message
 * (KWOK writes it into YAML unquoted: no ": " in it). */
const FAIL_LABEL = 'pod-container-running-failed.stage.kwok.x-k8s.io';

const hook = (podMetadata: Record<string, unknown> = {}, timeoutSeconds = 60) =>
  HookInput.parse({
    namespace: k8s.cluster.namespace,
    timeoutSeconds,
    job: { spec: { template: { metadata: podMetadata, spec: { containers: [{ name: 'check', image: 'registry.invalid/node-check:1' }] } } } },
  });

test('a hook Job runs on the node with NODE_NAME and HOOK set; running it again finds the same Job', async () => {
  const node = await k8s.cluster.addNode();
  const input = { hook: hook(), point: 'beforeDrain' as const, node, name: `beforedrain-${node}`, owner: 'wf-hooks-1' };
  const first = await run(k8s.activities.runHookJob, input);
  expect(first.job).toBe(`${k8s.cluster.namespace}/beforedrain-${node}`);
  expect(await run(k8s.activities.runHookJob, input)).toMatchObject({ job: first.job });
  const job = await k8s.cluster.kube.batch.readNamespacedJob({ name: `beforedrain-${node}`, namespace: k8s.cluster.namespace });
  const pod = job.spec!.template.spec!;
  expect(pod.nodeSelector).toEqual({ 'kubernetes.io/hostname': node });
  expect(pod.containers[0]!.env).toEqual([
    { name: 'NODE_NAME', value: node },
    { name: 'HOOK', value: 'beforeDrain' },
  ]);
  expect(job.spec!.backoffLimit).toBe(0);
});

test('a failed hook fails for good with its log tail', async () => {
  const node = await k8s.cluster.addNode();
  const failing = hook({ labels: { [FAIL_LABEL]: 'true' }, annotations: { [`${FAIL_LABEL}/message`]: 'nvme0 SMART status FAILED' } });
  await expect(
    run(k8s.activities.runHookJob, { hook: failing, point: 'afterReconfigure', node, name: `afterreconfigure-${node}`, owner: 'wf-hooks-2' }),
  ).rejects.toMatchObject({
    type: FailureType.HookFailed,
    nonRetryable: true,
    message: expect.stringContaining('nvme0 SMART status FAILED'),
  });
});
