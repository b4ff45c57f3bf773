import { DefaultLogger, Runtime } from '@temporalio/worker';

// Workers in tests log only warnings and errors; state changes and bundle sizes drown the test report.
Runtime.install({ logger: new DefaultLogger('WARN') });
