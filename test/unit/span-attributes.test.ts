import { spanAttributes } from '../../src/domain/span-attributes.js';

test('a node, an OIDC client or a Kustomization named by the input becomes a span attribute', () => {
  expect(spanAttributes('maintenanceNode', { node: 'spark-1', reason: 'fan swap' })).toEqual({ 'cluster_ops.node': 'spark-1' });
  expect(spanAttributes('rotateOidcClient', { client: { clientId: 'grafana' }, policy: {} })).toEqual({ 'cluster_ops.client_id': 'grafana' });
  expect(spanAttributes('verifyClientSecret', { clientId: 'argocd' })).toEqual({ 'cluster_ops.client_id': 'argocd' });
  expect(spanAttributes('reconcileKustomization', { namespace: 'flux-system', name: 'base', timeoutSeconds: 60 })).toEqual({
    'cluster_ops.kustomization': 'flux-system/base',
  });
});

test('a namespace and name that are not a Kustomization, and inputs that name nothing, give no attribute', () => {
  expect(spanAttributes('waitForRollout', { kind: 'Deployment', namespace: 'argo', name: 'argocd-server' })).toEqual({});
  expect(spanAttributes('nodeMaintenance', { nodes: ['a', 'b'] })).toEqual({});
  expect(spanAttributes('recordParsedInput', undefined)).toEqual({});
});
