import { readFileSync } from 'node:fs';
import { readVfConfig, VfConfigError, writeVfConfig } from '../../src/domain/sriov-config.js';

const labFile = readFileSync('lab/gitops/base/sriov-device-plugin/sriov-device-plugin.yaml', 'utf8');

test('reads the VF count and MTU from the DaemonSet init container', () => {
  expect(readVfConfig(labFile)).toEqual({ numVfs: 4, mtu: 9000 });
});

test('writes count, MTU and the device plugin pfNames range, keeping comments and the rest as is', () => {
  const { text, previous, changed } = writeVfConfig(labFile, { numVfs: 8, mtu: 4200 });
  expect(changed).toBe(true);
  expect(previous).toEqual({ numVfs: 4, mtu: 9000 });
  expect(readVfConfig(text)).toEqual({ numVfs: 8, mtu: 4200 });
  expect(text).toContain('"pfNames":["enP2p1s0f0np0#0-7"]');
  expect(text).toContain('# Standalone SR-IOV setup');
  expect(text).toContain('type: OnDelete');
  const changedLines = diffLines(labFile, text);
  expect(changedLines).toHaveLength(3);
});

test('writing the same config changes nothing', () => {
  expect(writeVfConfig(labFile, { numVfs: 4, mtu: 9000 })).toEqual({ text: labFile, previous: { numVfs: 4, mtu: 9000 }, changed: false });
});

test('a file without the expected parts is refused with the reason', () => {
  expect(() => readVfConfig('kind: ConfigMap\n')).toThrow(VfConfigError);
  expect(() => readVfConfig(labFile.replace('create-vfs', 'make-vfs'))).toThrow(/no init container "create-vfs"/);
  expect(() => readVfConfig(labFile.replace('name: NUM_VFS', 'name: VFS'))).toThrow(/NUM_VFS is missing/);
});

function diffLines(a: string, b: string): string[] {
  const left = a.split('\n');
  return b.split('\n').filter((line, i) => line !== left[i]);
}
