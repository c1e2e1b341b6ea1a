/** What the daemon must answer a fuzz message (docs/protocol.md), computed with the protocol's own decoder. */
import { decodeMessage, isBatch, messageSize, peekCorrelationId, peekOneway, splitBatch } from "../../src/protocol/frames.js";
import { KIND_CODES, type Message } from "../../src/protocol/message.js";
import type { Frames } from "./valid-messages.js";

export interface ExpectedReply {
  readonly id: number;
  /** The message cannot be decoded (or must not be sent to a daemon): the reply must be an error. */
  readonly error: boolean;
}

export function expectedReplies(frames: Frames, max: number): ExpectedReply[] {
  if (isBatch(frames)) {
    // A batch that does not add up: one error, id 0, none of its messages run. Otherwise each
    // message is size-checked and answered on its own (docs/protocol.md).
    let messages: Frames[];
    try {
      messages = splitBatch(frames);
    } catch {
      return [{ id: 0, error: true }];
    }
    return messages.flatMap((m) => expectedForOne(m, max));
  }
  return expectedForOne(frames, max);
}

/** What a valid message (as the generators make it, unmutated) gets: no reply for heartbeats, acks and oneway calls, else one. */
export function expectedForValid(frames: Frames): ExpectedReply[] {
  const h = frames[0]!;
  const kind = h[1];
  if (kind === KIND_CODES.heartbeat || kind === KIND_CODES.ack || (kind === KIND_CODES.call && (h[2]! & 1) === 1)) return [];
  return [{ id: peekCorrelationId(frames) ?? 0, error: false }];
}

function expectedForOne(frames: Frames, max: number): ExpectedReply[] {
  // A call with the oneway flag never gets a reply, not even an error.
  if (peekOneway(frames)) return [];
  const id = peekCorrelationId(frames) ?? 0;
  if (messageSize(frames) > max) return [{ id, error: true }];
  let message: Message;
  try {
    message = decodeMessage(frames);
  } catch {
    return [{ id, error: true }];
  }
  switch (message.kind) {
    case "heartbeat":
    case "ack":
      return [];
    case "call":
    case "get":
    case "set":
    case "subscribe":
    case "unsubscribe":
      return [{ id: message.id, error: false }];
    default:
      // result, error, event, reset: a daemon does not accept them.
      return [{ id: message.id, error: true }];
  }
}
