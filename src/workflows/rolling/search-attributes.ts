import { defineSearchAttributeKey } from '@temporalio/common';

/** Registered on the namespace (lab/temporal.ts, docs/operations.md): find runs by operation and node. */
export const OPERATION_ATTRIBUTE = defineSearchAttributeKey('ClusterOpsOperation', 'KEYWORD');
export const NODES_ATTRIBUTE = defineSearchAttributeKey('ClusterOpsNodes', 'KEYWORD_LIST');
