import { renderNodeSteps } from '../domain/rolling-plan.js';
import type { Progress } from '../schemas/progress.js';

/** Lays rows out as an aligned text table; the first row is the header. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)));
  return rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function elapsed(from?: string, to?: string): string {
  if (!from) return '';
  const ms = (to ? Date.parse(to) : Date.now()) - Date.parse(from);
  return ms < 1000 ? `${ms}ms` : `${(ms / 1000).toFixed(1)}s`;
}

export function renderProgress(id: string, progress: Progress): string {
  const header = `${progress.operation} ${id}: ${progress.phase}${progress.paused ? ' (paused)' : ''}`;
  const rows = progress.steps.map((step) => [step.name, step.phase, elapsed(step.startedAt, step.finishedAt), step.message ?? '']);
  return `${header}\n${table([['STEP', 'PHASE', 'TIME', 'MESSAGE'], ...rows])}`;
}

/** A rolling operation's dry run: each node's steps in order; other plans as JSON. */
export function renderNodePlan(plan: unknown): string {
  const steps = (plan as { steps?: Record<string, string[]> } | undefined)?.steps;
  if (!steps || typeof steps !== 'object') return JSON.stringify(plan, null, 2);
  return renderNodeSteps(steps, 'text');
}
