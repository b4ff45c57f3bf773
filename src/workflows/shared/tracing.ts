// The workflow side of tracing (src/tracing.ts has the worker's and the client's): bundled into the workflow code as
// an interceptor module, so every run opens a span that continues its starter's trace (the client's, or the
// parent's for a child) and hands its context on to its activities and children in their headers.
import { trace } from '@opentelemetry/api';
import {
  OpenTelemetryInboundInterceptor,
  OpenTelemetryInternalsInterceptor,
  OpenTelemetryOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry/lib/workflow/index.js';
import { workflowInfo } from '@temporalio/workflow';
import type { WorkflowInboundCallsInterceptor, WorkflowInterceptorsFactory } from '@temporalio/workflow';
import { spanAttributes } from '../../domain/span-attributes.js';

/** Labels the run's span, opened by the OpenTelemetry interceptor just outside this one, with what the run works on. */
const labelRunSpan: WorkflowInboundCallsInterceptor = {
  execute(input, next) {
    trace.getActiveSpan()?.setAttributes(spanAttributes(workflowInfo().workflowType, input.args[0]));
    return next(input);
  },
};

export const interceptors: WorkflowInterceptorsFactory = () => ({
  inbound: [new OpenTelemetryInboundInterceptor(), labelRunSpan],
  outbound: [new OpenTelemetryOutboundInterceptor()],
  internals: [new OpenTelemetryInternalsInterceptor()],
});
