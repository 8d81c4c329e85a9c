/**
 * @module
 * What a Wakame instance refers to, read from its fields: the networks and security groups of its vifs
 * (`vifs: [{index, network_id, security_groups}]`) and its ssh key pair (`sshKeyPairId`). A record an alive
 * instance refers to is not deleted from under it.
 */
import type { Resource } from '../../store/item.js';

/** One vif of an instance as stored. */
export interface StoredVif {
  /** The name the request gave it (`eth0`). */
  name?: string;
  index: number;
  network_id: string | null;
  security_groups: string[];
}

/**
 * An instance's vifs; none when it was not made through the Wakame API.
 *
 * @example
 * vifsOf(vm) // [{ index: 0, network_id: 'nw-demo1', security_groups: ['sg-cw8oe4ce'] }]
 */
export function vifsOf(instance: Resource): StoredVif[] {
  const vifs = instance.fields.vifs;
  return Array.isArray(vifs) ? (vifs as StoredVif[]) : [];
}

/**
 * Whether an instance refers to a Wakame record: a network or security group through a vif, or its ssh key pair.
 *
 * @example
 * refersTo(vm, 'sg-cw8oe4ce') // true when a vif is in that group
 */
export function refersTo(instance: Resource, recordId: string): boolean {
  if (instance.fields.sshKeyPairId === recordId) return true;
  return vifsOf(instance).some((v) => v.network_id === recordId || (Array.isArray(v.security_groups) && v.security_groups.includes(recordId)));
}
