// hypervisor/xen.ts — the hypervisor: domains and vCPUs on one physical CPU.
//
// This is what Xen's `xen/common` and `xen/arch/x86` are to a real machine,
// for one pCPU (one wasm core). It owns machine memory (the frame table,
// the M2P, page types: hypervisor/mm), builds PV domains
// (hypervisor/builder.ts), and runs their vCPUs in the turns the credit
// scheduler gives (hypervisor/sched-credit.ts): restore a vCPU's
// registers into the core, run it in the core's PV mode for a slice, and
// handle what made it stop. In PV mode everything that would enter ring 0
// stops it (core/pv.ts): a hypercall (`int 0x82` from ring 1), any other
// INT n, an exception. Hypercalls go to the table in hypervisor/hypercall.ts;
// exceptions and software interrupts are bounced to the guest's handlers
// (hypervisor/x86/traps.ts), except the few the hypervisor completes itself
// (the forced-emulation CPUID). A guest that cannot take its own exception
// is crashed, as Xen does; nothing a guest does reaches the host as an
// exception.
//
// The instruction count and the TSC are the physical CPU's: they run on
// across vCPU switches, so time, which derives from them in deterministic
// mode (hypervisor/clock.ts), is the machine's.

import * as L from "../core/layout.js";
import { Cpu, CS, DS, ES, FS, GS, SS, TR, LDTR } from "./platform/cpu.js";
import { Clock, type ClockMode } from "./clock.js";
import { FrameTable } from "./mm/frames.js";
import { M2P } from "./mm/m2p.js";
import { PageTypes } from "./mm/pagetype.js";
import { cpuMemory, type MachineMemory } from "./mm/memory.js";
import { buildPvDomain, destroyPvDomainMemory, type BuilderEnv } from "./builder.js";
import { Domain } from "./domain.js";
import { Vcpu } from "./vcpu.js";
import { FLAT_SEGMENTS, GDT_ENTRIES, HOST_TABLE_FRAMES, HostTables, TSS_LIMIT, TSS_SELECTOR } from "./x86/desc.js";
import { FLAT_RING1_CS, FLAT_RING1_DS, HYPERCALL_VECTOR, XEN_EMULATE_PREFIX, XEN_LEGACY_MAX_VCPUS } from "./abi/arch_x86_32.js";
import { ENOSYS } from "./abi/errno.js";
import { SHUTDOWN_crash, SHUTDOWN_NAMES } from "./abi/sched.js";
import {
  XEN_CPUID_FIRST_LEAF, XEN_CPUID_SIGNATURE_EBX, XEN_CPUID_SIGNATURE_ECX, XEN_CPUID_SIGNATURE_EDX,
} from "./abi/cpuid.js";
import { hypercallHandler, type HypercallContext } from "./hypercall.js";
import { bounceTrap, softwareInterruptAllowed } from "./x86/traps.js";
import { XEN_MAJOR, XEN_MINOR } from "./version.js";
import { Events } from "./events.js";
import { CreditScheduler, type SchedParams } from "./sched-credit.js";
import { Grants } from "./gnttab.js";
import { Xenstored } from "./xenstore/daemon.js";
import { XsHandle } from "./xenstore/xs.js";
import { introduceDomain, releaseDomain } from "./xenstore/libxl.js";
import "./console.js";
import "./sched.js";
import "./memory.js";
import "./multicall.js";
import { emulateGuestIo } from "./physdev.js";
import { handleWritablePageTableFault } from "./x86/mm.js";
import { LDT_SHADOW_FRAMES, releaseDescriptorTables } from "./x86/gdt.js";
import { deviceNotAvailable } from "./x86/fpu.js";
import "./vcpu-op.js";

/** Instructions a vCPU runs before the scheduler looks again (1 ms of deterministic time). */
export const SLICE_INSTRUCTIONS = 1_000_000;
/** vCPUs the machine can hold at once: each needs its block of host-table frames. */
export const MAX_VCPUS = 32;
/** The first frame of the host tables' blocks; frames below it are never used (a null machine address stays invalid). */
const HOST_TABLES_FIRST_MFN = 16;
/** The first frame of the vCPUs' LDT areas, after the host tables' blocks. */
const LDT_AREAS_FIRST_MFN = HOST_TABLES_FIRST_MFN + MAX_VCPUS * HOST_TABLE_FRAMES;

/** Event kinds of an EXIT_EXCEPTION (core/layout.ts EXIT_EVENT_KIND). */
const KIND_EXCEPTION = 1;
const KIND_SOFTWARE = 2;
const KIND_SOFT_EXCEPTION = 3;
const KIND_ICEBP = 4;

const EXC_DB = 1;
const EXC_UD = 6;
const EXC_GP = 13;
const EXC_PF = 14;
const EXC_NM = 7;

/** CR0 of a PV vCPU: PE, MP, ET, NE, WP (the guest kernel must not write its read-only page tables), PG. */
const PV_CR0 = 0x80010033;
/** CR4: PAE. */
const PV_CR4 = 0x20;
/** EFER: NXE, so guests may use NX (XEN-ABI.md 1.1). */
const PV_EFER = 0x800;

export interface HypervisorOptions {
  /** Machine RAM in MiB (default 256). */
  memMiB?: number;
  clock?: ClockMode;
  /** build/core.wasm's bytes, when the caller has them. */
  wasm?: Uint8Array;
}

export interface CreateDomainOptions {
  name: string;
  kernel: Uint8Array;
  memoryMiB: number;
  cmdline?: string;
  ramdisk?: Uint8Array;
  /** vCPUs (xl's vcpus, default 1): vCPU 0 runs, the others wait for VCPUOP_initialise and VCPUOP_up. */
  vcpus?: number;
  /** The credit scheduler's weight and cap (xl's cpu_weight and cap). */
  sched?: Partial<SchedParams>;
}

export class Hypervisor {
  readonly mem: MachineMemory;
  readonly frames: FrameTable;
  readonly m2p: M2P;
  readonly types: PageTypes;
  readonly domains = new Map<number, Domain>();
  /** What the hypervisor has done since it started: exits taken, hypercalls made, traps bounced. */
  readonly stats = { exits: 0, hypercalls: 0, bounces: 0 };
  /** Event channels, timers and upcalls (hypervisor/events.ts). */
  readonly events = new Events(this);
  /** Grant tables, and domain 0's grant mappings for its backends (hypervisor/gnttab.ts). */
  readonly grants = new Grants(this);
  /** xenstored, domain 0's store daemon, which every domain reaches through its xenstore ring (hypervisor/xenstore/). */
  readonly xenstored = new Xenstored();
  /** Domain 0's own client of it, as libxl's xs_handle. */
  readonly xs = new XsHandle(this.xenstored);
  /** Who runs next (hypervisor/sched-credit.ts). */
  readonly scheduler: CreditScheduler;
  /** Called when a domain shuts down (the toolstack applies on_poweroff and its kin). */
  onShutdown: (domain: Domain) => void = () => {};
  private nextDomid = 1;
  private readonly freeTableBlocks: number[] = [];
  private current: Vcpu | null = null;
  private sliceOver = false;

  constructor(readonly cpu: Cpu, readonly clock: Clock) {
    this.mem = cpuMemory(cpu);
    const reserved: number[] = [];
    // The host tables' blocks, then each vCPU's LDT area (hypervisor/x86/gdt.ts), in the same order.
    for (let mfn = 0; mfn < LDT_AREAS_FIRST_MFN + MAX_VCPUS * LDT_SHADOW_FRAMES; mfn++) reserved.push(mfn);
    for (let i = MAX_VCPUS - 1; i >= 0; i--) this.freeTableBlocks.push(HOST_TABLES_FIRST_MFN + i * HOST_TABLE_FRAMES);
    this.frames = new FrameTable(this.mem, { reserved, flushTlb: () => cpu.flushTlb() });
    this.m2p = new M2P(this.frames);
    this.types = new PageTypes(this.frames, this.m2p.xenL2Slots);
    this.scheduler = new CreditScheduler(clock, (v) => v.runState === "runnable" && v.domain.isRunnable());
  }

  static async create(options: HypervisorOptions = {}): Promise<Hypervisor> {
    const ramBytes = (options.memMiB ?? 256) * 1024 * 1024;
    const cpu = options.wasm ? Cpu.create(options.wasm, ramBytes) : await Cpu.load(ramBytes);
    const clock = new Clock({ mode: options.clock ?? "realtime", instructions: () => cpu.instructions() });
    return new Hypervisor(cpu, clock);
  }

  private get env(): BuilderEnv {
    return { frames: this.frames, m2p: this.m2p, types: this.types, mem: this.mem };
  }

  /** Builds a PV domain from a kernel image and makes its vCPU 0 runnable; throws LoadError for a bad image. */
  createDomain(options: CreateDomainOptions): Domain {
    const nrVcpus = options.vcpus ?? 1;
    if (!Number.isInteger(nrVcpus) || nrVcpus < 1 || nrVcpus > XEN_LEGACY_MAX_VCPUS) {
      throw new RangeError(`vcpus = ${nrVcpus}: a domain has 1 to ${XEN_LEGACY_MAX_VCPUS} vCPUs`);
    }
    if (this.freeTableBlocks.length < nrVcpus) {
      throw new Error(`no room for ${nrVcpus} more vCPUs (the machine holds ${MAX_VCPUS}, ${this.freeTableBlocks.length} are free)`);
    }
    const blocks = this.freeTableBlocks.splice(this.freeTableBlocks.length - nrVcpus).reverse();
    const block = blocks[0]!;
    const domid = this.nextDomid++;
    let built;
    try {
      built = buildPvDomain(this.env, domid, options.kernel, {
        memoryMiB: options.memoryMiB,
        cmdline: options.cmdline ?? "",
        ramdisk: options.ramdisk,
        // Bound with the domain's event channels, after the build (events.addDomain, hypervisor/console-ring.ts).
        consoleEvtchn: 0,
        storeEvtchn: 0,
      });
    } catch (e) {
      this.freeTableBlocks.push(...blocks.reverse());
      throw e;
    }
    const domain = new Domain(domid, options.name, built);
    // vCPU 0 starts as XEN-ABI.md 7.2 says; the others wait, down, for VCPUOP_initialise (hypervisor/x86/context.ts).
    blocks.forEach((tablesMfn, id) => {
      const tables = new HostTables(tablesMfn);
      tables.build((pa, bytes) => this.writePhysical(pa, bytes));
      const state = this.initialState(tables, built.l3Mfn, built.entry, built.stackTop, built.startInfoVa);
      const vcpu = new Vcpu(domain, id, tables, state, id === 0 ? built.l3Mfn : -1);
      vcpu.ldtShadowMfn = LDT_AREAS_FIRST_MFN + ((tablesMfn - HOST_TABLES_FIRST_MFN) / HOST_TABLE_FRAMES) * LDT_SHADOW_FRAMES;
      if (id === 0) {
        vcpu.kernelSs = FLAT_RING1_DS;
        vcpu.kernelSp = built.stackTop;
        tables.setKernelStack((pa, v) => this.writeU32(pa, v), FLAT_RING1_DS, built.stackTop);
      } else {
        vcpu.initialised = false;
        vcpu.runState = "offline";
      }
      domain.vcpus.push(vcpu);
    });
    this.domains.set(domid, domain);
    this.scheduler.addDomain(domain, options.sched);
    for (const v of domain.vcpus) this.scheduler.addVcpu(v);
    this.events.addDomain(domain);
    // Its home in xenstore, then its ring introduced to xenstored, as libxl does at the end of a build.
    introduceDomain(this.xenstored, this.xs, domain, this.events.storeRingOf(domain), this.events.consoleRingOf(domain)?.evtchn ?? 0);
    this.scheduler.wake(domain.vcpus[0]!);
    return domain;
  }

  /**
   * Runs `fn` with `vcpu`'s registers in the core, for the hypervisor to
   * set up a vCPU that is not the one running (VCPUOP_initialise); the
   * vCPU on the CPU gets its registers back afterwards.
   */
  onCpu<T>(vcpu: Vcpu, fn: () => T): T {
    const outgoing = this.current;
    if (outgoing === vcpu) return fn();
    if (outgoing) this.save(outgoing);
    this.load(vcpu);
    try {
      return fn();
    } finally {
      this.save(vcpu);
      if (outgoing) this.load(outgoing);
    }
  }

  /** The register state XEN-ABI.md 7.2 gives a PV kernel at entry. */
  private initialState(tables: HostTables, l3Mfn: number, entry: number, stackTop: number, startInfoVa: number): Uint8Array {
    const cpu = this.cpu;
    const outgoing = this.current;
    if (outgoing) this.save(outgoing);
    const count = this.cpu.word(L.INSN_COUNT);
    const countHigh = this.cpu.word(L.INSN_COUNT + 4);
    const tsc = [this.cpu.word(L.REG_TSC), this.cpu.word(L.REG_TSC + 4)];
    cpu.reset();
    cpu.setWord(L.INSN_COUNT, count);
    cpu.setWord(L.INSN_COUNT + 4, countHigh);
    cpu.setWord(L.REG_TSC, tsc[0]!);
    cpu.setWord(L.REG_TSC + 4, tsc[1]!);
    cpu.execMode = L.EXEC_PV;
    cpu.exceptionExitBitmap = 0;
    for (let v = 0; v < 256; v += 32) cpu.setWord(L.PV_DIRECT_VECTORS + v / 8, 0);
    cpu.setTable(false, tables.gdtBase, GDT_ENTRIES * 8 - 1);
    cpu.setTable(true, tables.idtBase, 256 * 8 - 1);
    cpu.setSegment(TR, { selector: TSS_SELECTOR, base: tables.tssBase, limit: TSS_LIMIT, attr: 0x8b });
    cpu.setSegment(LDTR, { selector: 0, base: 0, limit: 0, attr: L.SEG_ATTR_UNUSABLE });
    cpu.setSegment(CS, FLAT_SEGMENTS[FLAT_RING1_CS]!);
    for (const sreg of [SS, DS, ES, FS, GS]) cpu.setSegment(sreg, FLAT_SEGMENTS[FLAT_RING1_DS]!);
    cpu.cpl = 1;
    cpu.eip = entry;
    cpu.esp = stackTop;
    cpu.esi = startInfoVa;
    cpu.eflags = 0x202;
    cpu.cr0 = PV_CR0;
    cpu.cr4 = PV_CR4;
    cpu.cr3 = l3Mfn * 4096;
    cpu.setWord(L.MSR_EFER, PV_EFER);
    const state = cpu.saveState();
    if (outgoing) this.load(outgoing);
    return state;
  }

  /** Host writes into machine memory go through the core, which drops what it decoded there. */
  writePhysical(pa: number, bytes: Uint8Array): void {
    this.cpu.write(pa, bytes);
  }

  private writeU32(pa: number, v: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, true);
    this.writePhysical(pa, b);
  }

  // ------------------------------------------------------------ lifecycle

  shutdownDomain(domain: Domain, reason: number): void {
    if (domain.state === "shutdown") return;
    domain.state = "shutdown";
    domain.shutdownReason = reason;
    for (const v of domain.vcpus) v.runState = "offline";
    if (this.current?.domain === domain) this.sliceOver = true;
    this.events.domainShutdown(domain);
    this.onShutdown(domain);
  }

  /** Ends a domain the hypervisor found misbehaving (Xen's domain_crash). */
  crashDomain(domain: Domain, message: string): void {
    if (domain.state === "shutdown") return;
    domain.crashMessage = message;
    this.shutdownDomain(domain, SHUTDOWN_crash);
  }

  /** Frees a shut-down or running domain's memory and vCPUs. */
  destroyDomain(domain: Domain): void {
    if (domain.state !== "shutdown") this.shutdownDomain(domain, SHUTDOWN_crash);
    // Its xenstore directory goes and xenstored lets go of it (libxl__destroy_domid), before its ring does.
    releaseDomain(this.xenstored, this.xs, domain.domid);
    this.events.removeDomain(domain);
    this.scheduler.removeDomain(domain);
    for (const v of domain.vcpus) {
      if (this.current === v) this.current = null;
      this.freeTableBlocks.push(v.tables.baseMfn);
    }
    // The vCPUs' descriptor tables and CR3s hold references the domain's memory must lose first.
    for (const v of domain.vcpus) releaseDescriptorTables(this, v);
    const cr3Mfns = domain.vcpus.filter((v) => v.cr3Mfn >= 0).map((v) => v.cr3Mfn);
    // Its grant mappings end; frames others still map through its grants outlive it until unmapped.
    const grantMapped = this.grants.domainDestroyed(domain);
    destroyPvDomainMemory(this.env, domain.domid, domain.built, cr3Mfns, grantMapped);
    this.domains.delete(domain.domid);
  }

  pause(domain: Domain): void {
    if (domain.state === "running") domain.state = "paused";
    if (this.current?.domain === domain) this.sliceOver = true;
  }

  unpause(domain: Domain): void {
    if (domain.state !== "paused") return;
    domain.state = "running";
    for (const v of domain.vcpus) if (v.runState === "runnable") this.readyVcpu(v);
  }

  /** SCHEDOP_yield: the vCPU gives up the rest of its slice. */
  yieldVcpu(vcpu: Vcpu): void {
    this.scheduler.yield(vcpu);
    if (this.current === vcpu) this.sliceOver = true;
  }

  /** The vCPU on the CPU stops at the end of this hypercall (it went down, or its domain must be looked at again). */
  endSlice(): void {
    this.sliceOver = true;
  }

  /** SCHEDOP_block: the vCPU sleeps until an event wakes it (wakeVcpu). */
  blockVcpu(vcpu: Vcpu): void {
    vcpu.runState = "blocked";
    if (this.current === vcpu) this.sliceOver = true;
  }

  wakeVcpu(vcpu: Vcpu): void {
    if (vcpu.runState === "blocked") this.readyVcpu(vcpu);
  }

  /** The vCPU may run (woken, brought up, its domain unpaused): the scheduler queues it, and may preempt the running one. */
  readyVcpu(vcpu: Vcpu): void {
    vcpu.runState = "runnable";
    if (!vcpu.domain.isRunnable()) return;
    this.scheduler.wake(vcpu);
    if (this.current && this.current !== vcpu && this.scheduler.wantsPreemption()) this.sliceOver = true;
  }

  // ------------------------------------------------------------ the vCPU on the CPU

  private save(vcpu: Vcpu): void {
    vcpu.state = this.cpu.saveState();
  }

  /** Puts a vCPU's registers in the core; the physical CPU's instruction count and TSC stay. */
  private load(vcpu: Vcpu): void {
    const keep = [L.INSN_COUNT, L.INSN_COUNT + 4, L.REG_TSC, L.REG_TSC + 4].map((o) => this.cpu.word(o));
    this.cpu.restoreState(vcpu.state);
    [L.INSN_COUNT, L.INSN_COUNT + 4, L.REG_TSC, L.REG_TSC + 4].forEach((o, i) => this.cpu.setWord(o, keep[i]!));
  }

  private switchTo(vcpu: Vcpu): void {
    if (this.current === vcpu) return;
    if (this.current) this.save(this.current);
    this.load(vcpu);
    this.current = vcpu;
  }

  /**
   * Runs one slice of one vCPU: at most `budget` instructions, ending
   * earlier at the next timer in deterministic mode. Returns false when no
   * vCPU could run (all blocked, paused or gone).
   */
  step(budget = SLICE_INSTRUCTIONS): boolean {
    this.clock.fireDue();
    const decision = this.scheduler.schedule();
    const vcpu = decision?.vcpu ?? null;
    this.events.schedule(vcpu);
    if (!decision || !vcpu) return false;
    this.switchTo(vcpu);
    this.events.returnToGuest(vcpu);
    this.sliceOver = false;
    let left = budget;
    if (this.clock.mode === "deterministic") {
      // In deterministic time an instruction is a nanosecond: the slice stops at the scheduler's next decision or the next timer.
      const until = Math.min(this.clock.nextDeadline(), decision.until);
      left = Math.max(1, Math.min(left, until - this.clock.now()));
    }
    while (left > 0 && !this.sliceOver && vcpu.runState === "runnable" && vcpu.domain.isRunnable()) {
      const before = this.cpu.instructions();
      const reason = this.cpu.run(left);
      const ran = this.cpu.instructions() - before;
      vcpu.instructions += ran;
      left -= Math.max(1, ran);
      if (reason === L.EXIT_BUDGET) break;
      this.handleExit(vcpu, reason);
      // A hypercall may have armed a timer inside this slice: it ends there.
      if (this.clock.mode === "deterministic") left = Math.min(left, this.clock.nextDeadline() - this.clock.now());
    }
    if (this.current === vcpu) this.save(vcpu);
    this.events.sliceEnded(vcpu);
    return true;
  }

  /** True while some domain is running or paused (not every one has shut down). */
  hasLiveDomains(): boolean {
    for (const d of this.domains.values()) if (d.state !== "shutdown") return true;
    return false;
  }

  private handleExit(vcpu: Vcpu, reason: number): void {
    const cpu = this.cpu;
    this.stats.exits++;
    switch (reason) {
      case L.EXIT_EXCEPTION:
        this.handleEvent(vcpu);
        return;
      case L.EXIT_SHUTDOWN:
        this.crashDomain(vcpu.domain, `${vcpu.name} triple-faulted at ${hex(cpu.eip)}`);
        return;
      default:
        // A PV guest has no ports, MMIO or HLT of its own: the core cannot stop for those.
        this.crashDomain(vcpu.domain, `${vcpu.name} stopped for exit reason ${reason} at ${hex(cpu.eip)}`);
    }
  }

  /** An event that would have entered ring 0 (core/pv.ts): a hypercall, a software interrupt, an exception. */
  private handleEvent(vcpu: Vcpu): void {
    const cpu = this.cpu;
    const kind = cpu.exitEventKind();
    const vector = cpu.exitVector();
    const cpl = cpu.cpl;
    if (kind === KIND_SOFTWARE || kind === KIND_SOFT_EXCEPTION) {
      // EIP is past the INT; a #GP for it names the INT itself.
      const after = cpu.eip;
      const at = (after - cpu.exitInsnLength()) >>> 0;
      if (kind === KIND_SOFTWARE && vector === HYPERCALL_VECTOR) {
        // int 0x82 has DPL 1: from ring 3 it is #GP (XEN-ABI.md 1.6).
        if (cpl === 1) this.hypercall(vcpu);
        else this.bounce(vcpu, EXC_GP, at, vector * 8 + 2);
        return;
      }
      if (softwareInterruptAllowed(vcpu, vector, cpl)) this.bounce(vcpu, vector, after);
      else this.bounce(vcpu, EXC_GP, at, vector * 8 + 2);
      return;
    }
    if (kind === KIND_ICEBP) {
      this.bounce(vcpu, EXC_DB, cpu.eip);
      return;
    }
    if (kind !== KIND_EXCEPTION) {
      this.crashDomain(vcpu.domain, `${vcpu.name}: an external interrupt reached a PV vCPU`);
      return;
    }
    const code = cpu.exitErrorCode();
    if (vector === EXC_UD && this.forcedEmulation(vcpu)) return;
    if (vector === EXC_PF) {
      // A kernel write to its own L1 under vm_assist(writable_pagetables) is completed (hypervisor/x86/mm.ts).
      const cr2 = cpu.exitAddress();
      if (handleWritablePageTableFault(this, vcpu, code, cr2)) return;
      this.bounce(vcpu, EXC_PF, cpu.eip, code, cr2);
      return;
    }
    // Port I/O the vCPU's virtual IOPL allows is completed (hypervisor/physdev.ts).
    if (vector === EXC_GP && emulateGuestIo(this, vcpu, code)) return;
    this.bounce(vcpu, vector, cpu.eip, code >= 0 ? code : undefined);
    // The #NM the guest's virtual CR0.TS asked for ends it (hypervisor/x86/fpu.ts).
    if (vector === EXC_NM) deviceNotAvailable(cpu);
  }

  private bounce(vcpu: Vcpu, vector: number, returnEip: number, errorCode?: number, cr2?: number): void {
    this.stats.bounces++;
    if (!bounceTrap(this, this.cpu, vcpu, vector, returnEip, errorCode, cr2)) {
      const what = errorCode !== undefined ? `${vector}(${hex(errorCode)})` : `${vector}`;
      this.crashDomain(vcpu.domain, `${vcpu.name}: exception ${what} at ${hex(returnEip)} with no way to deliver it to the guest`);
    }
  }

  private hypercall(vcpu: Vcpu): void {
    const cpu = this.cpu;
    const nr = cpu.eax;
    this.stats.hypercalls++;
    const handler = hypercallHandler(nr);
    const ctx: HypercallContext = { xen: this, cpu, vcpu, domain: vcpu.domain };
    const rc = handler ? handler(ctx, cpu.ebx, cpu.ecx, cpu.edx, cpu.esi, cpu.edi) : -ENOSYS;
    if (!ctx.keepRegisters && vcpu.domain.state !== "shutdown") cpu.eax = rc >>> 0;
    this.events.returnToGuest(vcpu);
  }

  /**
   * Xen's forced-emulation prefix: `ud2; .ascii "xen"` before CPUID asks the
   * hypervisor for its view of CPUID (XEN-ABI.md 1.8). The hypervisor's
   * leaves (0x40000000 on) are answered here, the rest by the CPU model.
   */
  private forcedEmulation(vcpu: Vcpu): boolean {
    const cpu = this.cpu;
    const bytes = cpu.readVirtual(cpu.eip, XEN_EMULATE_PREFIX.length + 2, cpu.cpl === 3);
    if (!bytes || !XEN_EMULATE_PREFIX.every((b, i) => bytes[i] === b) || bytes[5] !== 0x0f || bytes[6] !== 0xa2) return false;
    cpu.eip = (cpu.eip + XEN_EMULATE_PREFIX.length) >>> 0;
    const leaf = cpu.eax;
    if (leaf >= XEN_CPUID_FIRST_LEAF && leaf < XEN_CPUID_FIRST_LEAF + 0x100) {
      const regs = xenCpuid(leaf - XEN_CPUID_FIRST_LEAF);
      cpu.eax = regs[0];
      cpu.ebx = regs[1];
      cpu.ecx = regs[2];
      cpu.edx = regs[3];
      cpu.eip = (cpu.eip + 2) >>> 0;
      return true;
    }
    const reason = cpu.emulateOne(0);
    if (reason !== L.EXIT_BUDGET) this.crashDomain(vcpu.domain, `${vcpu.name}: emulating CPUID stopped with exit ${reason}`);
    return true;
  }

  /** Why a domain ended, in xl's words. */
  static describeShutdown(domain: Domain): string {
    const name = SHUTDOWN_NAMES[domain.shutdownReason] ?? `reason ${domain.shutdownReason}`;
    return domain.crashMessage ? `${name}: ${domain.crashMessage}` : name;
  }
}

/** The hypervisor's CPUID leaves, relative to 0x40000000 (XEN-ABI.md 2.2). */
function xenCpuid(index: number): [number, number, number, number] {
  switch (index) {
    case 0:
      return [XEN_CPUID_FIRST_LEAF + 2, XEN_CPUID_SIGNATURE_EBX, XEN_CPUID_SIGNATURE_ECX, XEN_CPUID_SIGNATURE_EDX];
    case 1:
      return [(XEN_MAJOR << 16) | XEN_MINOR, 0, 0, 0];
    case 2:
      // One hypercall page, set through MSR 0x40000000.
      return [1, 0x40000000, 0, 0];
    default:
      return [0, 0, 0, 0];
  }
}

function hex(v: number): string {
  return `0x${(v >>> 0).toString(16)}`;
}
