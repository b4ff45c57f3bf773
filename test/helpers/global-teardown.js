/** Stops every server global-setup started; jest runs this even when tests fail. */
export default async function globalTeardown() {
  await globalThis.clusterOpsStop?.();
}
