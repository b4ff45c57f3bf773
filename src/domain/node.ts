/** Pure checks on the parts of a Node that our operations wait for. */

export interface NodeFacts {
  name: string;
  unschedulable: boolean;
  labels: Record<string, string>;
  /** condition type → status ("True", "False", "Unknown") */
  conditions: Record<string, string>;
  /** resource name → quantity as the API server prints it */
  allocatable: Record<string, string>;
}

export interface NodeExpectation {
  condition?: { type: string; status: 'True' | 'False' | 'Unknown' };
  allocatable?: { resource: string; quantity: string };
}

/** Returns what still differs from the expectation, or an empty list when the node meets it. */
export function unmetExpectations(node: NodeFacts, expected: NodeExpectation): string[] {
  const unmet: string[] = [];
  if (expected.condition) {
    const { type, status } = expected.condition;
    const actual = node.conditions[type] ?? 'absent';
    if (actual !== status) unmet.push(`condition ${type} is ${actual}, want ${status}`);
  }
  if (expected.allocatable) {
    const { resource, quantity } = expected.allocatable;
    const actual = node.allocatable[resource] ?? 'absent';
    if (actual !== quantity) unmet.push(`allocatable ${resource} is ${actual}, want ${quantity}`);
  }
  return unmet;
}

/** Where a node differs from its inventory class: architecture and required labels. */
export function inventoryMismatches(node: NodeFacts, expected: { arch: string; labels: Record<string, string> }): string[] {
  const mismatches: string[] = [];
  const arch = node.labels['kubernetes.io/arch'] ?? 'absent';
  if (arch !== expected.arch) mismatches.push(`arch is ${arch}, inventory says ${expected.arch}`);
  for (const [key, value] of Object.entries(expected.labels)) {
    const actual = node.labels[key];
    if (actual !== value) mismatches.push(`label ${key} is ${actual ?? 'absent'}, inventory says ${value}`);
  }
  return mismatches;
}

/** What tells one registration of a node from the next: a re-registered node gets a new uid, a reboot a new boot ID. */
export interface NodeIdentity {
  uid: string;
  bootId: string;
}

/** Whose cordon a node carries, and what a run did about it: we only ever undo a cordon we made (kured's rule). */
export interface CordonState {
  /** Cordoned by someone else (an admin, another run) before us: never uncordon it. */
  cordonedByOthers: boolean;
  /** Who cordoned it before us, for the report: another run's id, or an admin (no annotation of ours). */
  cordonedBefore?: string;
  /** This run took its own cordon off again. */
  uncordoned: boolean;
}
