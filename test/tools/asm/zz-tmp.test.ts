import { it } from "vitest";
import { decode } from "../../support/iced.js";
it("x", () => {
  for (const [h, b] of [["0f20c8",32],["0f20c0",32],["0f2400",32],["0f24c0",32],["0f24d8",32],["0fffc0",32],["0fff",32],["f090",32],["666690",32],["2e90",32],["f3c3",32],["f2c3",32],["0420",32],["d50a",32],["e2fe",32],["67e2fe",32],["8ed8",16],["8ed8",32],["0f00d0",32],["d1e0",32],["0f",16],["6690",32],["90",16],["0f01c1",32],["c8100000",32],["f3a4",32],["f2a4",32],["2ea4",32], ["d7", 32], ["9b", 32], ["f390", 32], ["8cd8", 32], ["668cd8", 32], ["8c00", 32]] as const) {
    const d = decode(Uint8Array.from(Buffer.from(h, "hex")), b);
    console.log(h, b, d.invalid, d.mnemonic, d.code, d.length, JSON.stringify(d.operands), d.text);
  }
});
