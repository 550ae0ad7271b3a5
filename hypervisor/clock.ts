// hypervisor/clock.ts — the one clock every timer, device and TSC asks.
//
// DESIGN.md, "Time and determinism": a run chooses one of two clocks.
//   - deterministic: virtual time is the number of instructions executed,
//     one nanosecond each (a 1 GHz machine retiring one instruction per
//     cycle), plus the time a halted CPU skipped to reach its next timer.
//     Exits cost no virtual time. Two runs with the same inputs see the same
//     time at every instruction, so they repeat bit for bit.
//   - real-time: virtual time follows the host's monotonic clock from the
//     moment the clock was made; the interactive default.
// Nothing else in core/ or hypervisor/ reads the host clock: `hostTime`
// below is the only place that does, and tests replace it.
//
// Timers are one-shot: a device arms a timer for a virtual time and re-arms
// it from its callback when it is periodic. The machine's run loop asks
// `nextDeadline()` to size its instruction slices (deterministic mode: the
// slice ends exactly at the deadline) and calls `fireDue()` after each one.
// A callback receives the deadline it was armed for, which equals `now()` in
// deterministic mode and may be earlier in real-time mode when the host was
// late.

/** Where real time comes from: the host's clocks. */
export interface HostTime {
  /** A monotonic time in nanoseconds (any origin). */
  monotonicNs(): number;
  /** Wall-clock time in milliseconds since the Unix epoch. */
  wallMs(): number;
}

/** The host's clocks: the only reads of host time in hypervisor/. */
export const hostTime: HostTime = {
  monotonicNs: () => performance.now() * 1e6,
  wallMs: () => Date.now(),
};

export type ClockMode = "deterministic" | "realtime";

/** Deterministic runs start their calendar here, so the CMOS clock repeats too: 2000-01-01 00:00:00 UTC. */
export const DETERMINISTIC_EPOCH_MS = Date.UTC(2000, 0, 1);

export const NS_PER_SECOND = 1_000_000_000;

export interface ClockOptions {
  mode: ClockMode;
  /** Instructions executed so far; deterministic time is built on it. Defaults to a counter that stays 0. */
  instructions?: () => number;
  /** The host's clocks (real-time mode, and its calendar epoch). */
  host?: HostTime;
  /** Wall-clock time at virtual time 0, in ms since the Unix epoch; defaults to the host's now in real-time mode and DETERMINISTIC_EPOCH_MS in deterministic mode. */
  epochMs?: number;
}

export type TimerCallback = (deadline: number) => void;

/** A one-shot timer owned by a device; arm it again to repeat. */
export class Timer {
  /** Virtual time (ns) it fires at; meaningful while armed. */
  deadline = 0;
  /** Arming order, so timers due at the same time fire in the order they were armed. */
  sequence = 0;
  armed = false;

  constructor(
    private readonly clock: Clock,
    readonly name: string,
    readonly callback: TimerCallback,
  ) {}

  /** Fires at virtual time `deadline` (ns); replaces an earlier arming. */
  arm(deadline: number): void {
    this.clock.arm(this, deadline);
  }

  /** Fires `delay` ns from now. */
  armIn(delay: number): void {
    this.clock.arm(this, this.clock.now() + delay);
  }

  cancel(): void {
    this.clock.cancel(this);
  }
}

export class Clock {
  readonly mode: ClockMode;
  /** Wall-clock ms at virtual time 0 (the CMOS calendar starts here). */
  readonly epochMs: number;
  private readonly instructions: () => number;
  private readonly host: HostTime;
  private readonly hostOrigin: number;
  /** Deterministic mode: virtual ns skipped while halted, added to the instruction count. */
  private skipped = 0;
  private readonly timers = new Set<Timer>();
  private sequence = 0;

  constructor(options: ClockOptions) {
    this.mode = options.mode;
    this.instructions = options.instructions ?? (() => 0);
    this.host = options.host ?? hostTime;
    this.hostOrigin = this.host.monotonicNs();
    this.epochMs =
      options.epochMs ?? (this.mode === "deterministic" ? DETERMINISTIC_EPOCH_MS : this.host.wallMs());
  }

  /** Virtual time in nanoseconds since the clock was made. */
  now(): number {
    if (this.mode === "deterministic") return this.instructions() + this.skipped;
    return Math.floor(this.host.monotonicNs() - this.hostOrigin);
  }

  /** Wall-clock time now, ms since the Unix epoch, as the guest's calendar sees it. */
  wallMs(): number {
    return this.epochMs + Math.floor(this.now() / 1e6);
  }

  /** A timer for a device; it does nothing until armed. */
  timer(name: string, callback: TimerCallback): Timer {
    return new Timer(this, name, callback);
  }

  arm(timer: Timer, deadline: number): void {
    timer.deadline = deadline;
    timer.sequence = this.sequence++;
    timer.armed = true;
    this.timers.add(timer);
  }

  cancel(timer: Timer): void {
    timer.armed = false;
    this.timers.delete(timer);
  }

  /** The earliest armed timer, or undefined when none is armed. */
  private earliest(): Timer | undefined {
    let first: Timer | undefined;
    for (const t of this.timers) {
      if (!first || t.deadline < first.deadline || (t.deadline === first.deadline && t.sequence < first.sequence)) first = t;
    }
    return first;
  }

  /** Virtual time of the next timer, or Infinity when no timer is armed. */
  nextDeadline(): number {
    return this.earliest()?.deadline ?? Infinity;
  }

  /** Runs every timer due by now (including ones their callbacks arm for now or earlier); returns how many ran. */
  fireDue(): number {
    let fired = 0;
    for (;;) {
      const t = this.earliest();
      if (!t || t.deadline > this.now()) return fired;
      this.cancel(t);
      t.callback(t.deadline);
      fired++;
    }
  }

  /**
   * A halted CPU waits for `deadline`. In deterministic mode virtual time
   * jumps there at once (DESIGN.md: "HLT advances to the next timer"); in
   * real-time mode time is the host's, and the caller sleeps instead.
   */
  skipTo(deadline: number): void {
    if (this.mode !== "deterministic") return;
    const now = this.now();
    if (deadline > now) this.skipped += deadline - now;
  }
}

/**
 * floor(a * b / c) for non-negative integers whose product may pass 2^53:
 * the device clocks convert nanoseconds to ticks of 1.193182 MHz or 32.768
 * kHz and back, and a run lasts longer than the 7.5 s after which a plain
 * product would lose precision. Exact while b * c stays below 2^53.
 */
export function mulDiv(a: number, b: number, c: number): number {
  const q = Math.floor(a / c);
  const r = a - q * c;
  return q * b + Math.floor((r * b) / c);
}

/** ceil(a * b / c), with the same range as mulDiv. */
export function mulDivCeil(a: number, b: number, c: number): number {
  const q = Math.floor(a / c);
  const r = a - q * c;
  return q * b + Math.ceil((r * b) / c);
}
