/** The big-endian 32-bit helpers of the frame codecs agree with Buffer's checked methods. */
import { expect, it } from "vitest";
import { readUint32, writeUint32 } from "../src/uint32.js";

it("readUint32 and writeUint32 give Buffer's readUInt32BE and writeUInt32BE results, at any offset", () => {
  const values = [0, 1, 255, 256, 0x7fff_ffff, 0x8000_0000, 0xdead_beef, 0xffff_ffff];
  for (let i = 0; i < 1000; i++) values.push(Math.floor(Math.random() * 2 ** 32));
  for (const [n, value] of values.entries()) {
    const at = n % 5;
    const ours = Buffer.alloc(12);
    const theirs = Buffer.alloc(12);
    expect(writeUint32(ours, value, at)).toBe(theirs.writeUInt32BE(value, at));
    expect(ours).toEqual(theirs);
    expect(readUint32(ours, at)).toBe(theirs.readUInt32BE(at));
  }
});
