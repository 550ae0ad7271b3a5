// test/hypervisor/mm/frames.test.ts — the frame allocator: every frame has one
// owner, is handed out once, comes back only when nothing references it, and
// reaches its next owner scrubbed, with stale TLB entries flushed first.

import { describe, expect, it } from "vitest";
import { EBUSY, EINVAL, ENOMEM } from "../../../hypervisor/abi/errno.js";
import { DOMID_INVALID, DOMID_XEN } from "../../../hypervisor/abi/xen.js";
import { FrameTable } from "../../../hypervisor/mm/frames.js";
import { bufferMemory } from "../../../hypervisor/mm/memory.js";

function table(nrFrames: number, reserved: number[] = []) {
  const ram = new Uint8Array(nrFrames * 4096);
  let flushes = 0;
  const frames = new FrameTable(bufferMemory(ram), { reserved, flushTlb: () => flushes++ });
  return { ram, frames, flushes: () => flushes };
}

describe("allocating frames", () => {
  it("hands out the lowest free frame first and never the same frame twice, then -ENOMEM", () => {
    const { frames } = table(8, [0]);
    const got: number[] = [];
    for (let i = 0; i < 7; i++) got.push(frames.allocate(1 + (i % 2)));
    expect(got).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(frames.available).toBe(0);
    expect(frames.allocate(1)).toBe(-ENOMEM);
    expect(frames.pagesOf(1)).toBe(4);
    expect(frames.pagesOf(2)).toBe(3);
  });

  it("keeps reserved frames for the hypervisor: owned by DOMID_XEN from the start and never handed out", () => {
    const { frames } = table(4, [0, 2]);
    expect(frames.ownerOf(0)).toBe(DOMID_XEN);
    expect(frames.ownerOf(2)).toBe(DOMID_XEN);
    expect([frames.allocate(1), frames.allocate(1), frames.allocate(1)]).toEqual([1, 3, -ENOMEM]);
    expect(frames.free(DOMID_XEN, 0)).toBe(0);
    expect(frames.allocate(1)).toBe(0);
  });

  it("will not hand a frame to DOMID_INVALID, the mark of a free frame", () => {
    const { frames } = table(4);
    expect(() => frames.allocate(DOMID_INVALID)).toThrow(RangeError);
    expect(frames.available).toBe(4);
  });

  it("refuses to reserve a frame that is not RAM", () => {
    expect(() => table(4, [4])).toThrow(RangeError);
  });

  it("scrubs a frame before its next owner sees it", () => {
    const { ram, frames } = table(4);
    const mfn = frames.allocate(1);
    ram.fill(0x5a, mfn * 4096, mfn * 4096 + 4096);
    expect(frames.free(1, mfn)).toBe(0);
    expect(frames.allocate(2)).toBe(mfn);
    expect(ram.subarray(mfn * 4096, mfn * 4096 + 4096).every((b) => b === 0)).toBe(true);
    expect(frames.ownerOf(mfn)).toBe(2);
  });

  it("reports free frames and frames past RAM as owned by nobody", () => {
    const { frames } = table(4);
    expect(frames.ownerOf(3)).toBe(DOMID_INVALID);
    expect(frames.ownerOf(4)).toBe(DOMID_INVALID);
    expect(frames.ownerOf(-1)).toBe(DOMID_INVALID);
    expect(frames.ownerOf(1.5)).toBe(DOMID_INVALID);
  });
});

describe("references and freeing", () => {
  it("takes a general reference only for the frame's owner", () => {
    const { frames } = table(4);
    const mfn = frames.allocate(1);
    expect(frames.getPage(mfn, 2)).toBe(false);
    expect(frames.getPage(mfn + 1, 1)).toBe(false);
    expect(frames.getPage(99, 1)).toBe(false);
    expect(frames.getPage(mfn, DOMID_INVALID)).toBe(false);
    expect(frames.getPage(mfn, 1)).toBe(true);
    expect(frames.count[mfn]).toBe(1);
  });

  it("refuses to free a frame with references (-EBUSY), then frees it once they are gone", () => {
    const { frames } = table(4);
    const mfn = frames.allocate(1);
    frames.getPage(mfn, 1);
    const available = frames.available;
    expect(frames.free(1, mfn)).toBe(-EBUSY);
    expect(frames.ownerOf(mfn)).toBe(1);
    expect(frames.available).toBe(available);
    frames.putPage(mfn);
    expect(frames.free(1, mfn)).toBe(0);
    expect(frames.available).toBe(available + 1);
    expect(frames.pagesOf(1)).toBe(0);
  });

  it("refuses to free a frame the caller does not own, a free frame, or one past RAM (-EINVAL)", () => {
    const { frames } = table(4);
    const mfn = frames.allocate(1);
    expect(frames.free(2, mfn)).toBe(-EINVAL);
    expect(frames.free(1, mfn + 1)).toBe(-EINVAL);
    expect(frames.free(1, 4)).toBe(-EINVAL);
    expect(frames.free(DOMID_INVALID, mfn + 1)).toBe(-EINVAL);
    expect(frames.ownerOf(mfn)).toBe(1);
  });

  it("treats a reference count underflow as the hypervisor bug it is", () => {
    const { frames } = table(4);
    expect(() => frames.putPage(frames.allocate(1))).toThrow(/underflow/);
  });
});

describe("stale TLB entries", () => {
  it("flushes before a freed frame goes to a new owner, unless a flush happened since", () => {
    const { frames, flushes } = table(4);
    const a = frames.allocate(1);
    frames.free(1, a);
    expect(frames.allocate(2)).toBe(a);
    expect(flushes()).toBe(1);
    frames.free(2, a);
    frames.tlbFlushed();
    expect(frames.allocate(1)).toBe(a);
    expect(flushes()).toBe(1);
  });

  it("does not flush for a frame that was never used", () => {
    const { frames, flushes } = table(4);
    frames.allocate(1);
    frames.allocate(2);
    expect(flushes()).toBe(0);
  });
});
