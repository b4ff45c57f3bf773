import { spawnSync } from 'node:child_process';
import { ConfigError, loadEnv, TemporalEnv, WorkerEnv } from '../../src/config.js';

test('defaults fill everything a lab worker needs', () => {
  expect(loadEnv(WorkerEnv, { KUBECONFIG: '/tmp/kubeconfig' })).toMatchObject({
    TEMPORAL_ADDRESS: 'localhost:7233',
    TEMPORAL_NAMESPACE: 'default',
    TASK_QUEUE: 'cluster-ops',
    METRICS_ADDRESS: '0.0.0.0:9464',
    LOG_LEVEL: 'INFO',
  });
});

test('in a cluster, the service account replaces KUBECONFIG', () => {
  expect(() => loadEnv(WorkerEnv, { KUBERNETES_SERVICE_HOST: '10.96.0.1' })).not.toThrow();
});

test('one error names every bad variable', () => {
  const bad = { TEMPORAL_ADDRESS: 'no-port', LOG_LEVEL: 'LOUD', TEMPORAL_TLS_CERT: '/tls.crt' };
  expect(() => loadEnv(WorkerEnv, bad)).toThrow(ConfigError);
  const message = (() => {
    try {
      loadEnv(WorkerEnv, bad);
      return '';
    } catch (error) {
      return (error as Error).message;
    }
  })();
  expect(message).toMatch(/env\.TEMPORAL_ADDRESS: must be host:port/);
  expect(message).toMatch(/env\.LOG_LEVEL:/);
  expect(message).toMatch(/env\.TEMPORAL_TLS_KEY: mTLS needs both/);
  expect(message).toMatch(/env\.KUBECONFIG: not set, and not running inside a cluster/);
});

test('blank variables count as unset', () => {
  expect(loadEnv(TemporalEnv, { TASK_QUEUE: '' }).TASK_QUEUE).toBe('cluster-ops');
});

test('the built worker exits 2 on bad configuration, printing each bad variable', () => {
  const worker = spawnSync(process.execPath, ['dist/src/worker.js'], {
    env: { PATH: process.env.PATH, TEMPORAL_ADDRESS: 'nope', LOG_LEVEL: 'LOUD' },
    encoding: 'utf8',
  });
  expect(worker.status).toBe(2);
  expect(worker.stderr).toMatch(/env\.TEMPORAL_ADDRESS/);
  expect(worker.stderr).toMatch(/env\.LOG_LEVEL/);
  expect(worker.stderr).toMatch(/env\.KUBECONFIG/);
});
