// Traces of the worker and the CLI, exported over OTLP (gRPC) when OTEL_EXPORTER_OTLP_ENDPOINT is set. The
// workflow side is src/workflows/shared/tracing.ts, bundled into the workflow code.
import { trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry/lib/client/index.js';
import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry/lib/worker/index.js';
import type { OpenTelemetrySinks } from '@temporalio/interceptors-opentelemetry/lib/workflow/definitions.js';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import type { ActivityInterceptorsFactory, InjectedSinks } from '@temporalio/worker';
import { spanAttributes } from './domain/span-attributes.js';

/** This process's tracer provider: spans leave in batches; `shutdown` sends the last ones before the process exits. */
export interface Tracing {
  resource: Resource;
  spanProcessor: SpanProcessor;
  shutdown(): Promise<void>;
}

/** Starts tracing for the process when an endpoint is given (e.g. http://otel-collector:4317); none: no tracing at all. */
export function startTracing(serviceName: 'cluster-ops-worker' | 'cluster-ops-cli', endpoint: string | undefined): Tracing | undefined {
  if (!endpoint) return undefined;
  const resource = new Resource({ 'service.name': serviceName });
  const spanProcessor = new BatchSpanProcessor(new OTLPTraceExporter({ url: endpoint }));
  const provider = new NodeTracerProvider({ resource, spanProcessors: [spanProcessor] });
  // Registered globally: the Temporal interceptors take the tracer, the W3C trace context propagator and the
  // async context (which span is current) from the OpenTelemetry API.
  provider.register();
  return { resource, spanProcessor, shutdown: () => provider.shutdown() };
}

/** The client's span for each start, signal, update or query, whose context the run continues. */
export function clientTracingInterceptors(tracing: Tracing | undefined): WorkflowClientInterceptor[] {
  return tracing ? [new OpenTelemetryWorkflowClientInterceptor()] : [];
}

/**
 * The workflow interceptors are always in the workflow code (src/workflow-bundle.ts) and hand their spans to this
 * sink: a worker without tracing, and a replay worker (which never exports), drop them with this one.
 */
export const droppedWorkflowSpans: InjectedSinks<OpenTelemetrySinks> = { exporter: { export: { fn: () => undefined } } };

/**
 * What the worker adds for tracing: a span for each activity, labelled with what the activity works on, and the
 * sink that exports the workflow spans. Without tracing, activities run as they would without this module.
 */
export function workerTracing(tracing: Tracing | undefined): { activity: ActivityInterceptorsFactory[]; sinks: InjectedSinks<OpenTelemetrySinks> } {
  if (!tracing) return { activity: [], sinks: droppedWorkflowSpans };
  return {
    activity: [
      (ctx) => ({ inbound: new OpenTelemetryActivityInboundInterceptor(ctx), outbound: new OpenTelemetryActivityOutboundInterceptor(ctx) }),
      // Inside the span the interceptor above opened.
      (ctx) => ({
        inbound: {
          execute(input, next) {
            trace.getActiveSpan()?.setAttributes(spanAttributes(ctx.info.activityType, input.args[0]));
            return next(input);
          },
        },
      }),
    ],
    sinks: { exporter: makeWorkflowExporter(tracing.spanProcessor, tracing.resource) },
  };
}
