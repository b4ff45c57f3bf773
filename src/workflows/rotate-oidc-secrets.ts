import { ApplicationFailure, executeChild, getExternalWorkflowHandle, workflowInfo } from '@temporalio/workflow';
import { RotateOidcSecretsInput, rotateOidcClientId } from '../schemas/rotate-oidc-secrets.js';
import { rotateOidcClientMetadata } from '../schemas/run-metadata.js';
import { OperatorControls } from './shared/controls.js';
import { FailureType, rootMessage } from '../failures.js';
import { handleCommand } from './shared/commands.js';
import { abortCommand, retryStepCommand } from './shared/messages.js';
import { ProgressTracker } from './shared/progress.js';
import { inputFixedAtStart } from './shared/input.js';
import { rollNodes } from './rolling/engine.js';
import { rotateOidcClient } from './rotate-oidc-client.js';
import type { RotateOidcClientResult } from './rotate-oidc-client.js';

export interface ClientReport {
  clientId: string;
  status: 'rotated' | 'failed' | 'aborted' | 'not-started';
  message: string;
  /** The child workflow (its progress shows the step it is at; send it retry/abort). */
  workflowId: string;
  newFingerprint?: string;
}

export interface RotateOidcSecretsResult {
  outcome: 'completed' | 'aborted';
  clients: ClientReport[];
}

/**
 * Rotates the OIDC client secrets of a client list, one client at a time by default (each a
 * rotateOidcClient child), and stops starting clients at the first failure. `abort` stops starting new
 * clients and is passed on to the running ones; `retry` is passed on to them too.
 */
export async function rotateOidcSecrets(rawInput: RotateOidcSecretsInput): Promise<RotateOidcSecretsResult> {
  // Every client to rotate, before the first rotation: a typo in the list must not surface after others rotated.
  const input = await inputFixedAtStart(RotateOidcSecretsInput, rawInput, ({ clients, only }) =>
    clients.flatMap((c, i) =>
      !only || only.includes(c.clientId) ? [{ field: `input.clients.${i}.clientId`, kind: 'KeycloakClient' as const, name: c.clientId }] : [],
    ),
  );
  const { workflowId } = workflowInfo();
  const selected = input.clients.filter((c) => !input.only || input.only.includes(c.clientId));
  const progress = new ProgressTracker(
    'rotate-oidc-secrets',
    selected.map((c) => c.clientId),
  );
  const running = new Set<string>();
  // A child that already finished ignores the signal's failure: nothing to pass on to.
  const passOn = (send: (child: ReturnType<typeof getExternalWorkflowHandle>) => Promise<void>) => {
    for (const id of running) void send(getExternalWorkflowHandle(id)).catch(() => undefined);
  };
  // Abort reaches the running children too, so they stop at a safe point and report what they left.
  const controls = new OperatorControls(progress, { onAbort: (why) => passOn((child) => child.signal(abortCommand.signal, why)) });
  handleCommand(retryStepCommand, {
    reject: () => (running.size > 0 ? undefined : 'no client is being rotated now'),
    apply: () => {
      passOn((child) => child.signal(retryStepCommand.signal));
      return `passed on to ${[...running].join(', ')} (a child with no failed step ignores it)`;
    },
  });

  const reports = new Map<string, ClientReport>(
    selected.map((c) => [c.clientId, { clientId: c.clientId, status: 'not-started', message: '', workflowId: rotateOidcClientId(workflowId, c.clientId) }]),
  );
  progress.phase = 'rotating';
  // Abort reaches the running children as a signal, so they stop at a safe point and report what they
  // left (never a revoke); the rolling engine must never cancel them mid-step.
  const rolling = { maxUnavailable: input.maxParallel, beforeNode: async () => !(await controls.checkpoint()), stopRequested: () => false };
  const rolled = await rollNodes(
    selected.map((c) => c.clientId),
    rolling,
    async (clientId): Promise<RotateOidcClientResult> => {
      const childId = reports.get(clientId)!.workflowId;
      progress.step(clientId, 'running', `child ${childId}`);
      running.add(childId);
      try {
        const child = { client: selected.find((c) => c.clientId === clientId)!, policy: input.policy };
        return await executeChild(rotateOidcClient, { workflowId: childId, args: [child], ...rotateOidcClientMetadata(child) });
      } finally {
        running.delete(childId);
      }
    },
  );
  for (const outcome of rolled.outcomes) {
    const report = reports.get(outcome.node)!;
    if (outcome.ok) {
      const r = outcome.result;
      Object.assign(report, { status: r.outcome, message: r.message, newFingerprint: r.newFingerprint });
      progress.step(outcome.node, r.outcome === 'rotated' ? 'done' : 'failed', r.message);
    } else {
      Object.assign(report, { status: 'failed', message: rootMessage(outcome.error) });
      progress.step(outcome.node, 'failed', report.message);
    }
  }
  for (const clientId of rolled.notStarted) progress.step(clientId, 'skipped', 'not started');
  const clients = [...reports.values()];
  const failed = clients.find((c) => c.status === 'failed');
  if (failed) {
    progress.phase = 'failed';
    throw ApplicationFailure.create({
      type: FailureType.RotationStopped,
      nonRetryable: true,
      message: `OIDC secret rotation stopped at ${failed.clientId}: ${failed.message}\n${clients.map((c) => `${c.clientId}: ${c.status}`).join('\n')}`,
      details: [clients],
    });
  }
  const aborted = controls.aborted || clients.some((c) => c.status !== 'rotated');
  progress.phase = aborted ? 'aborted' : 'completed';
  return { outcome: aborted ? 'aborted' : 'completed', clients };
}
