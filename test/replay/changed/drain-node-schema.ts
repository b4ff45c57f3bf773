// drainNode's input schema with one default changed after runs were recorded: uncordonAfter now defaults to
// true, which would add an uncordon to every drain that left it out.
import { z } from 'zod';
import { DrainNodeInput as released } from '../../../src/schemas/drain-node.js';

export const DrainNodeInput = released.extend({ uncordonAfter: z.boolean().default(true) });
export type DrainNodeInput = z.input<typeof DrainNodeInput>;
