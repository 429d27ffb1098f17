/**
 * Webhook lease tokens name the node that took them: `<length of holder>:<holder>|<random>`. A node
 * that restarts under the same name can then end the leases of its previous run, instead of waiting
 * for them to run out. The length makes one holder's prefix never the start of another's
 * (`node-a` and `node-a|b`, say), whatever characters the names hold.
 */
import { randomUUID } from 'node:crypto';

/** A fresh lease token of `holder`. */
export function leaseToken(holder: string): string {
  return `${leaseTokenPrefix(holder)}${randomUUID()}`;
}

/** What every lease token of `holder` starts with. */
export function leaseTokenPrefix(holder: string): string {
  return `${holder.length}:${holder}|`;
}
