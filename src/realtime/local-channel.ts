/** A channel's subscribers on this node. */
import { channelKind, type ChannelKind } from '../protocol/channels.js';
import type { Connection } from './connection.js';
import type { OutboundMessage } from './transport.js';

/** The sockets of this node subscribed to one channel. */
export class LocalChannel {
  readonly kind: ChannelKind;
  readonly subscribers = new Set<Connection>();

  constructor(readonly name: string) {
    this.kind = channelKind(name);
  }

  /** Writes the same message to every subscriber but the excluded socket. */
  deliver(message: OutboundMessage, exceptSocketId: string | null): number {
    let delivered = 0;
    for (const connection of this.subscribers) {
      if (connection.socketId === exceptSocketId) continue;
      connection.transport.send(message);
      delivered++;
    }
    return delivered;
  }
}
