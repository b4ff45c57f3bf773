/**
 * What NCCL_DEBUG=INFO lines say about the network NCCL really used: the transport (`Using network IB` or
 * `Socket`), the HCAs (`NET/IB : Using [0]rocep1s0f1:1/RoCE [1]...`), whether GPU Direct RDMA was on
 * (`GPU Direct RDMA Disabled for HCA 0 '...'`, channels `via NET/IB/0/GDRDMA`), per host.
 */

export interface NcclHca {
  index: number;
  name: string;
  port: number;
  /** `RoCE` or `IB`. */
  linkLayer: string;
}

export type GdrState = 'enabled' | 'disabled' | 'unknown';

export interface NcclNetworkFacts {
  /** Whether any NCCL_DEBUG=INFO line was seen: without them nothing below is known. */
  debugLines: number;
  transport: 'IB' | 'Socket' | 'unknown';
  /** Per host, the HCAs NCCL listed. */
  hcas: Record<string, NcclHca[]>;
  /** Socket interfaces NCCL listed (`NET/Socket : Using [0]eth0:...`), per host. */
  socketInterfaces: Record<string, string[]>;
  gdr: GdrState;
  /** Channels NCCL reported going over the network, and how many of them use GDRDMA. */
  netChannels: number;
  gdrChannels: number;
  /**
   * The smallest active MTU NCCL's IB/RoCE queue pairs used, in bytes (`NET/IB: ... qpn N mtu 5`, the IB MTU
   * enum: 5 is 4096, 3 is 1024). RoCE reaches 4096 only with an Ethernet MTU of 9000. Logged with
   * NCCL_DEBUG_SUBSYS=NET.
   */
  ibMtuBytes?: number;
}

const INFO_LINE = /^(\S+?):\d+:\d+ \[\d+\] NCCL INFO (.*)$/;

export function parseNcclDebug(text: string): NcclNetworkFacts {
  const facts: NcclNetworkFacts = {
    debugLines: 0,
    transport: 'unknown',
    hcas: {},
    socketInterfaces: {},
    gdr: 'unknown',
    netChannels: 0,
    gdrChannels: 0,
  };
  let gdrEnabled = false;
  let gdrDisabled = false;
  for (const line of text.split('\n')) {
    const info = line.trim().match(INFO_LINE);
    if (!info) continue;
    facts.debugLines += 1;
    const [, host, message] = info as unknown as [string, string, string];
    let m: RegExpMatchArray | null;
    if ((m = message.match(/^Using network (IB|Socket)\b/))) {
      facts.transport = m[1] as 'IB' | 'Socket';
    } else if ((m = message.match(/^NET\/IB : Using (.*)$/))) {
      facts.hcas[host] = [...m[1]!.matchAll(/\[(\d+)\]([^:\s]+):(\d+)\/(\w+)/g)].map((h) => ({
        index: Number(h[1]),
        name: h[2]!,
        port: Number(h[3]),
        linkLayer: h[4]!,
      }));
    } else if ((m = message.match(/^NET\/Socket : Using (.*)$/))) {
      facts.socketInterfaces[host] = [...m[1]!.matchAll(/\[\d+\]([^:\s]+):/g)].map((s) => s[1]!);
    } else if (/GPU Direct RDMA Disabled/.test(message)) {
      gdrDisabled = true;
    } else if (/GPU Direct RDMA Enabled/.test(message)) {
      gdrEnabled = true;
    } else if ((m = message.match(/ via NET\/(IB|Socket)\/\d+(\/GDRDMA)?/))) {
      facts.netChannels += 1;
      if (m[2]) facts.gdrChannels += 1;
    } else if ((m = message.match(/\bqpn \d+ mtu (\d)\b/))) {
      facts.ibMtuBytes = Math.min(facts.ibMtuBytes ?? Infinity, 128 << Number(m[1]));
    }
  }
  if (facts.transport === 'unknown' && Object.keys(facts.hcas).length > 0) facts.transport = 'IB';
  if (facts.transport === 'unknown' && Object.keys(facts.socketInterfaces).length > 0) facts.transport = 'Socket';
  facts.gdr = gdrEnabled || facts.gdrChannels > 0 ? 'enabled' : gdrDisabled ? 'disabled' : 'unknown';
  return facts;
}
