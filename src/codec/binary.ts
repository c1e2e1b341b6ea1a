/**
 * Binary values (Buffer, typed arrays, ArrayBuffer, DataView) travel as separate ZeroMQ
 * frames. In the JSON body they are replaced by the index of their frame; superjson's
 * annotation records which type to rebuild. Encoding and decoding are synchronous, so the
 * frames of the message being (de)coded are held in one module-level slot.
 */
import type { SuperJSON } from "superjson";

type TypedArrayConstructor =
  | typeof Int8Array | typeof Uint8Array | typeof Uint8ClampedArray
  | typeof Int16Array | typeof Uint16Array | typeof Int32Array | typeof Uint32Array
  | typeof Float32Array | typeof Float64Array | typeof BigInt64Array | typeof BigUint64Array;

const TYPED_ARRAYS: readonly TypedArrayConstructor[] = [
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array,
];

let outgoing: Uint8Array[] | undefined;
let incoming: readonly Uint8Array[] | undefined;

/** Runs `encode` collecting the binary frames it produces. */
export function collectingAttachments<T>(encode: () => T): { result: T; attachments: Uint8Array[] } {
  const previous = outgoing;
  const attachments: Uint8Array[] = [];
  outgoing = attachments;
  try {
    return { result: encode(), attachments };
  } finally {
    outgoing = previous;
  }
}

/** Runs `decode` with `attachments` available to binary placeholders. */
export function withAttachments<T>(attachments: readonly Uint8Array[], decode: () => T): T {
  const previous = incoming;
  incoming = attachments;
  try {
    return decode();
  } finally {
    incoming = previous;
  }
}

function push(bytes: Uint8Array): number {
  if (!outgoing) throw new Error("binary value encoded outside collectingAttachments");
  outgoing.push(bytes);
  return outgoing.length - 1;
}

function frame(index: unknown): Uint8Array {
  if (typeof index !== "number" || !incoming || !Number.isInteger(index) || index < 0 || index >= incoming.length) {
    throw new Error(`binary placeholder ${JSON.stringify(index)} does not name an attachment frame`);
  }
  return incoming[index]!;
}

/** Copies when the frame's offset is not aligned for the element size (typed array views require it). */
function aligned(bytes: Uint8Array, elementSize: number): Uint8Array {
  if (bytes.byteOffset % elementSize === 0) return bytes;
  return new Uint8Array(bytes);
}

function viewBytes(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

/** Registers the binary transformers on a SuperJSON instance. Buffer first: it is also a Uint8Array. */
export function registerBinaryTypes(sj: SuperJSON): void {
  sj.registerCustom<Buffer, number>(
    {
      isApplicable: (v): v is Buffer => Buffer.isBuffer(v),
      serialize: (v) => push(v),
      deserialize: (i) => {
        const f = frame(i);
        return Buffer.from(f.buffer, f.byteOffset, f.byteLength);
      },
    },
    "Buffer",
  );
  for (const Ctor of TYPED_ARRAYS) {
    sj.registerCustom<InstanceType<TypedArrayConstructor>, number>(
      {
        isApplicable: (v): v is InstanceType<TypedArrayConstructor> => v instanceof Ctor && v.constructor === Ctor,
        serialize: (v) => push(viewBytes(v)),
        deserialize: (i) => {
          const f = aligned(frame(i), Ctor.BYTES_PER_ELEMENT);
          if (f.byteLength % Ctor.BYTES_PER_ELEMENT !== 0) throw new Error(`${Ctor.name} frame length ${f.byteLength} is not a multiple of ${Ctor.BYTES_PER_ELEMENT}`);
          return new Ctor(f.buffer as ArrayBuffer, f.byteOffset, f.byteLength / Ctor.BYTES_PER_ELEMENT);
        },
      },
      Ctor.name,
    );
  }
  sj.registerCustom<ArrayBuffer, number>(
    {
      isApplicable: (v): v is ArrayBuffer => v instanceof ArrayBuffer,
      serialize: (v) => push(new Uint8Array(v)),
      deserialize: (i) => {
        const f = frame(i);
        return f.buffer.slice(f.byteOffset, f.byteOffset + f.byteLength) as ArrayBuffer;
      },
    },
    "ArrayBuffer",
  );
  sj.registerCustom<DataView, number>(
    {
      isApplicable: (v): v is DataView => v instanceof DataView,
      serialize: (v) => push(viewBytes(v)),
      deserialize: (i) => {
        const f = frame(i);
        return new DataView(f.buffer, f.byteOffset, f.byteLength);
      },
    },
    "DataView",
  );
}
