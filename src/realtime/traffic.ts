/** Plain number counters of WebSocket traffic, bumped by the transport and read by the metrics. */

/**
 * Messages and bytes in and out of this node's client sockets. Plain fields, so the broadcast
 * path pays two additions per write and no label lookup; `/metrics` reads them when scraped.
 */
export class TrafficCounters {
  /** Text frames received from clients. */
  messagesIn = 0;
  /** Payload bytes of those frames. */
  bytesIn = 0;
  /** Frames written to clients (a broadcast to 1,000 sockets counts 1,000). */
  messagesOut = 0;
  /** Wire bytes of those frames, WebSocket framing included. */
  bytesOut = 0;
  /** Sockets closed with 4100 because their unsent bytes passed `maxBufferedBytes`. */
  slowConsumerCloses = 0;
}
