import { toEnvelope, withoutProps } from "../codec/error-envelope.js";
import { encodeValue } from "../codec/values.js";
import { MessageTooLargeError } from "../errors.js";
import { encodeMessage, exceedsSize, outgoingSize, type OutFrame } from "../protocol/frames.js";

/**
 * The frames of an `error` reply. Never throws: an error whose properties cannot be encoded
 * goes without them, one too large to send becomes a MessageTooLargeError.
 */
export function errorFrames(id: number, error: unknown, maxMessageSize: number): OutFrame[] {
  const envelope = toEnvelope(error);
  let frames: OutFrame[];
  try {
    frames = encodeMessage({ kind: "error", id, value: encodeValue(envelope) });
  } catch {
    frames = encodeMessage({ kind: "error", id, value: encodeValue(withoutProps(envelope)) });
  }
  if (exceedsSize(frames, maxMessageSize)) {
    const tooLarge = new MessageTooLargeError(`the ${envelope.name} thrown (${outgoingSize(frames)} bytes) exceeds the maximum message size of ${maxMessageSize}`);
    frames = encodeMessage({ kind: "error", id, value: encodeValue(withoutProps(toEnvelope(tooLarge))) });
  }
  return frames;
}

/** The frames of a `result` reply, or of the `error` saying why `value` cannot be sent. */
export function resultFrames(id: number, value: unknown, maxMessageSize: number): OutFrame[] {
  let frames: OutFrame[];
  try {
    frames = encodeMessage({ kind: "result", id, value: encodeValue(value) });
  } catch (error) {
    return errorFrames(id, error, maxMessageSize);
  }
  if (exceedsSize(frames, maxMessageSize)) {
    return errorFrames(id, new MessageTooLargeError(`result of ${outgoingSize(frames)} bytes exceeds the maximum message size of ${maxMessageSize}`), maxMessageSize);
  }
  return frames;
}
