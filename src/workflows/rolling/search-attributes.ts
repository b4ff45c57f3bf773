import { defineSearchAttributeKey } from '@temporalio/common';

/** Registered on the namespace (lab/temporal.ts, docs/operations.md): find runs by operation and node. */
export const OPERATION_ATTRIBUTE = defineSearchAttributeKey('ClusterOpsOperation', 'KEYWORD');
export const NODES_ATTRIBUTE = defineSearchAttributeKey('ClusterOpsNodes', 'KEYWORD_LIST');

/**
 * Whether a list fits in one search attribute value: Temporal refuses a larger one (limit.searchAttributeValueSize,
 * 2 KB by default) by terminating the run. 200 nine-character node names are 2.4 KB.
 */
export const fitsSearchAttribute = (values: string[]) => JSON.stringify(values).length <= 2048;
