/**
 * Frames of a few binary bytes followed by text: a message's header and its JSON body travel
 * as one frame (one native send per message on ZeroMQ, one length on TCP, one view on receipt).
 *
 * Small frames are written one after another into a shared slab and handed out as views of it,
 * as Node's own Buffer pool does, except that the text is written before its length is known:
 * no `Buffer.byteLength` pass over it first. A view keeps its slab alive, so slabs are small
 * (Node's pool is 8 KiB too).
 */
const SLAB_BYTES = 8 * 1024;
/** A frame that could need more than this (3 bytes per UTF-16 unit at most) gets a buffer of its own. */
const SLAB_MOST = 2 * 1024;

let slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
let used = 0;

/**
 * A frame of `prefix` bytes, left for the caller to fill, followed by `text` as UTF-8. Its
 * bytes are the caller's alone: nothing else is ever written to them.
 */
export function textFrame(prefix: number, text: string): Buffer {
  const most = prefix + 3 * text.length;
  if (most > SLAB_MOST) {
    const frame = Buffer.allocUnsafe(prefix + Buffer.byteLength(text));
    frame.write(text, prefix);
    return frame;
  }
  if (SLAB_BYTES - used < most) {
    slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
    used = 0;
  }
  const start = used;
  used = start + prefix + slab.write(text, start + prefix);
  return slab.subarray(start, used);
}
