/** @module Wakame networks: IPv4 addresses as numbers, network modes, and the one dc network Drover offers. */

/** How a network's vifs are wired (dcmgr `Network::NETWORK_MODES`). */
export const NETWORK_MODES = ['securitygroup', 'passthrough', 'l2overlay'] as const;

export type NetworkMode = (typeof NETWORK_MODES)[number];

/** A dc network: the physical segment new networks are made on (dcmgr `DcNetwork`, shown inside a network). */
export interface DcNetwork {
  id: string;
  name: string;
  offering_network_modes: readonly NetworkMode[];
  allow_new_networks: boolean;
}

/** Drover has one dc network, which offers every mode: hosts wire vifs themselves, so no segment limits them. */
export const DC_NETWORKS: readonly DcNetwork[] = [
  { id: 'dcn-public', name: 'public', offering_network_modes: NETWORK_MODES, allow_new_networks: true },
];

/**
 * The dc network with an id, if there is one.
 *
 * @example
 * dcNetworkOf('dcn-public')?.name // 'public'
 */
export function dcNetworkOf(id: string): DcNetwork | undefined {
  return DC_NETWORKS.find((d) => d.id === id);
}

/** An octet as written in a dotted quad: no sign, no leading zero (`010` is refused, not read as octal or 10). */
const OCTET = /^(?:0|[1-9][0-9]{0,2})$/;

/**
 * A dotted-quad IPv4 address as a 32-bit number, or `null` if the text is not one.
 *
 * @example
 * parseIpv4('10.0.2.15') // 167772687
 * parseIpv4('10.0.2') // null
 */
export function parseIpv4(text: string): number | null {
  const octets = text.split('.');
  if (octets.length !== 4 || !octets.every((o) => OCTET.test(o) && Number(o) <= 255)) return null;
  return octets.reduce((sum, o) => sum * 256 + Number(o), 0);
}

/**
 * The dotted-quad form of a 32-bit address held in a number.
 *
 * @example
 * formatIpv4(167772687) // '10.0.2.15'
 */
export function formatIpv4(address: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(address / 2 ** shift) % 256).join('.');
}

/**
 * The host bits of an address under a prefix length: 0 when the address is the network's own address.
 *
 * @example
 * hostBitsOf(parseIpv4('10.0.2.15')!, 24) // 15
 */
export function hostBitsOf(address: number, prefix: number): number {
  return address % 2 ** (32 - prefix);
}

/**
 * Whether an address lies in the network `network/prefix` (both as numbers).
 *
 * @example
 * inNetwork(parseIpv4('10.0.2.2')!, parseIpv4('10.0.2.0')!, 24) // true
 */
export function inNetwork(address: number, network: number, prefix: number): boolean {
  return address - hostBitsOf(address, prefix) === network - hostBitsOf(network, prefix);
}
