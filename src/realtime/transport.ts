/** The write side of a client socket, as the realtime core sees it. Only the transport knows `ws`. */

/**
 * A server message serialised once. The transport caches its wire encoding in `wire` the first
 * time it is written, so a broadcast frames an event once and writes the same bytes to every socket.
 */
export interface OutboundMessage {
  readonly text: string;
  wire?: unknown;
}

/** Wraps serialised text as an OutboundMessage. */
export function outbound(text: string): OutboundMessage {
  return { text };
}

/** A client socket, write-only. Reads enter the core through `Connection.handleFrame`. */
export interface Transport {
  /** Queues a message; never throws, even if the socket is gone. */
  send(message: OutboundMessage): void;
  /** Sends a WebSocket ping frame. */
  ping(): void;
  /** Closes with a WebSocket close code and reason. */
  close(code: number, reason: string): void;
  /** Bytes queued but not yet handed to the kernel. */
  readonly bufferedAmount: number;
}
