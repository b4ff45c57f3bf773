// Every workflow the worker registers; one file each.
export { drainNode } from './drain-node.js';
