import { Client, Connection } from '@temporalio/client';
import { testEnv } from './env.js';
import { TestCluster } from './kube.js';

export interface FileWorld<T> {
  cluster: TestCluster;
  /** What the file sets up in its cluster (a GitOps world, an OIDC test bed...). */
  bed: T;
  /** A client of the shared dev server. */
  client: Client;
}

/**
 * A test file's world on the shared servers: its own TestCluster, what `setUp` makes in it, and a dev server
 * client; made before the file's tests (jest beforeAll) and taken down after them. Read its fields in tests.
 */
export function fileWorld<T extends { stop(): Promise<void> }>(prefix: string, setUp: (cluster: TestCluster) => Promise<T>, timeoutMs = 120_000): FileWorld<T> {
  const world = {} as FileWorld<T>;
  beforeAll(async () => {
    world.cluster = await TestCluster.create(prefix);
    world.bed = await setUp(world.cluster);
    world.client = new Client({ connection: await Connection.connect({ address: testEnv('temporalAddress') }) });
  }, timeoutMs);
  afterAll(async () => {
    await world.client?.connection.close();
    await world.bed?.stop();
    await world.cluster?.close();
  });
  return world;
}
