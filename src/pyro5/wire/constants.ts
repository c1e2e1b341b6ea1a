/**
 * Pyro5's wire constants (Pyro5/protocol.py, protocol version 502; see
 * ../shared/design/PYRO5-WIRE.md §2-§3). Pure values, no I/O.
 */

/** The only protocol version a Pyro5 peer accepts (header bytes 4-5). */
export const PYRO5_VERSION = 502;
/** Fixed size of the header before annotations and payload. */
export const HEADER_SIZE = 40;
/** Last two header bytes; a peer rejects a message without them. */
export const MAGIC = 0x4dc5;
/** First four header bytes, ASCII "PYRO". */
export const TAG = Buffer.from("PYRO", "latin1");

export const MessageType = { connect: 1, connectOk: 2, connectFail: 3, invoke: 4, result: 5, ping: 6 } as const;
export type MessageTypeValue = (typeof MessageType)[keyof typeof MessageType];

export const Flag = {
  exception: 0x01,
  compressed: 0x02,
  oneway: 0x04,
  batch: 0x08,
  itemStream: 0x10,
  keepSerialized: 0x20,
  correlationId: 0x40,
} as const;

export const SerializerId = { serpent: 1, marshal: 2, json: 3, msgpack: 4 } as const;

/** Pyro5's own default limit (config.MAX_MESSAGE_SIZE); pyro-ts passes its maxMessageSize instead. */
export const PYRO5_MAX_MESSAGE_SIZE = 1024 ** 3;

/** Size of the correlation id field (a UUID's bytes). */
export const CORRELATION_ID_SIZE = 16;
/** Annotation chunk header: 4 ASCII id characters and a u32 length. */
export const ANNOTATION_HEADER_SIZE = 8;

/** Whether `type` is one of the six message types Pyro5 defines. */
export function isMessageType(type: number): type is MessageTypeValue {
  return Number.isInteger(type) && type >= MessageType.connect && type <= MessageType.ping;
}
