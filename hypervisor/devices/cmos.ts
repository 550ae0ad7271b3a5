// hypervisor/devices/cmos.ts — the CMOS real-time clock and NVRAM (a Motorola MC146818A).
//
// Port 0x70 selects one of 128 bytes and port 0x71 reads or writes it; bit 7
// of the index masks the NMI on a PC. Bytes 0x00-0x09 are the calendar
// (seconds, minutes, hours, day of week, date, month, year, with alarm
// bytes between), in BCD unless register B's DM bit asks for binary, with
// hours in 24- or 12-hour form (bit 7 = PM). Register A holds the update-in-
// progress flag and the periodic rate, B the SET bit and interrupt enables,
// C the interrupt flags (reading clears them), D the valid-RAM bit. The rest
// is battery-backed RAM; the BIOS keeps the memory sizes and the century
// there.
//
// The calendar is not stepped every second: it is the clock's wall time
// (DESIGN.md, one clock object) plus whatever offset the guest's writes
// have set, decoded when read. UIP reads 1 for the 244 us before each
// second boundary, as on the chip, so the usual "wait for UIP to clear, then
// read" loops work. Periodic, alarm and update-ended interrupts raise
// IRQ 8, which stays asserted until the guest reads register C.
//
// Source: Motorola MC146818A data sheet (registers A-D, the periodic rate
// table, the update cycle); the PC's NVRAM layout from the IBM PC/AT
// Technical Reference and QEMU hw/rtc/mc146818rtc.c and hw/i386/pc.c (the
// memory-size bytes 0x15-0x18, 0x30-0x31, 0x34-0x35 and century at 0x32).

import { NS_PER_SECOND, type Clock, type Timer } from "../clock.js";
import { fromBcd, toBcd, unconnectedIrq, type IoSize, type IrqLine, type PortDevice } from "./io.js";

export const CMOS_INDEX_PORT = 0x70;
export const CMOS_DATA_PORT = 0x71;
export const RTC_IRQ = 8;

// Calendar and control registers.
const SECONDS = 0x00;
const SECONDS_ALARM = 0x01;
const MINUTES = 0x02;
const MINUTES_ALARM = 0x03;
const HOURS = 0x04;
const HOURS_ALARM = 0x05;
const DAY_OF_WEEK = 0x06;
const DAY_OF_MONTH = 0x07;
const MONTH = 0x08;
const YEAR = 0x09;
const REG_A = 0x0a;
const REG_B = 0x0b;
const REG_C = 0x0c;
const REG_D = 0x0d;
// NVRAM bytes the PC BIOS defines.
const BASE_MEMORY_LOW = 0x15;
const EXTENDED_MEMORY_LOW = 0x17;
const EXTENDED_MEMORY_LOW_2 = 0x30;
const CENTURY = 0x32;
const HIGH_MEMORY_LOW = 0x34;
const CHECKSUM_HIGH = 0x2e;

const A_UIP = 0x80;
const A_DIVIDER = 0x70;
/** DV2-0 = 010: the 32.768 kHz time base, running. */
const A_DIVIDER_NORMAL = 0x20;
const A_RATE = 0x0f;
const B_SET = 0x80;
const B_PIE = 0x40;
const B_AIE = 0x20;
const B_UIE = 0x10;
const B_BINARY = 0x04;
const B_24H = 0x02;
const C_IRQF = 0x80;
const C_PF = 0x40;
const C_AF = 0x20;
const C_UF = 0x10;
const D_VRT = 0x80;
const HOUR_PM = 0x80;
/** An alarm byte of 0xC0-0xFF matches every value. */
const ALARM_ANY = 0xc0;

const RTC_HZ = 32_768;
/** UIP rises this long before an update: 8 cycles of the 32.768 kHz base (244 us). */
const UIP_LEAD_NS = Math.round((8 * NS_PER_SECOND) / RTC_HZ);
/** Seconds in a day: every alarm setting matches at least once in any day. */
const DAY_SECONDS = 86_400;

export interface CmosOptions {
  /** RAM size in bytes, for the BIOS memory-size bytes. */
  ramBytes: number;
  irq?: IrqLine;
}

export class Cmos implements PortDevice {
  readonly name = "cmos";
  private index = 0;
  /** Bit 7 of the last index written: the NMI is masked on a PC while it is set. */
  nmiMasked = false;
  private readonly nvram = new Uint8Array(128);
  /** The calendar as seconds since 1970 (read as UTC) at virtual time `baseNs`. */
  private baseSeconds: number;
  private baseNs: number;
  /** The calendar while SET holds it or the divider is stopped (undefined while it runs). */
  private held: number | undefined;
  /** Day of week as the guest set it, relative to the true one (the chip just counts what it is given). */
  private weekdayOffset = 0;
  private flags = 0;
  /** Flags are current up to this virtual time. */
  private flagsUpTo: number;
  private irqLevel = false;
  private readonly timer: Timer;
  private readonly irq: IrqLine;

  constructor(
    private readonly clock: Clock,
    options: CmosOptions,
  ) {
    this.irq = options.irq ?? unconnectedIrq;
    const wallMs = clock.wallMs();
    const now = clock.now();
    this.baseSeconds = Math.floor(wallMs / 1000);
    this.baseNs = now - (wallMs % 1000) * 1e6;
    this.flagsUpTo = now;
    this.nvram[REG_A] = A_DIVIDER_NORMAL | 0x06; // the BIOS default: 1024 Hz periodic rate
    this.nvram[REG_B] = B_24H;
    this.nvram[REG_D] = D_VRT;
    this.fillBiosBytes(options.ramBytes);
    this.timer = clock.timer("rtc", () => {
      this.refreshFlags(this.clock.now());
      this.update();
    });
  }

  /** The PC BIOS's memory sizes (KiB below 640K, KiB above 1 MiB up to 64 MiB, 64 KiB blocks above 16 MiB) and their checksum. */
  private fillBiosBytes(ramBytes: number): void {
    const put16 = (at: number, value: number) => {
      this.nvram[at] = value & 0xff;
      this.nvram[at + 1] = value >> 8;
    };
    put16(BASE_MEMORY_LOW, 640);
    const extendedKiB = Math.min(Math.max(ramBytes / 1024 - 1024, 0), 0xffff);
    put16(EXTENDED_MEMORY_LOW, extendedKiB);
    put16(EXTENDED_MEMORY_LOW_2, extendedKiB);
    put16(HIGH_MEMORY_LOW, Math.min(Math.max((ramBytes - 16 * 1024 * 1024) / 65536, 0), 0xffff));
    // The AT BIOS checksum: the sum of bytes 0x10-0x2D, big-endian at 0x2E.
    let sum = 0;
    for (let i = 0x10; i < CHECKSUM_HIGH; i++) sum += this.nvram[i]!;
    this.nvram[CHECKSUM_HIGH] = (sum >> 8) & 0xff;
    this.nvram[CHECKSUM_HIGH + 1] = sum & 0xff;
  }

  private get running(): boolean {
    return !(this.nvram[REG_B]! & B_SET) && (this.nvram[REG_A]! & A_DIVIDER) === A_DIVIDER_NORMAL;
  }

  /** The calendar at `now`, in whole seconds since 1970. */
  private seconds(now: number): number {
    return this.held ?? this.baseSeconds + Math.floor((now - this.baseNs) / NS_PER_SECOND);
  }

  /** Sets the calendar to `seconds`, keeping the phase of the divider chain. */
  private setSeconds(seconds: number, now: number): void {
    if (this.held !== undefined) {
      this.held = seconds;
      return;
    }
    const phase = (((now - this.baseNs) % NS_PER_SECOND) + NS_PER_SECOND) % NS_PER_SECOND;
    this.baseSeconds = seconds;
    this.baseNs = now - phase;
  }

  private encode(value: number): number {
    return this.nvram[REG_B]! & B_BINARY ? value : toBcd(value);
  }

  private decode(value: number): number {
    return this.nvram[REG_B]! & B_BINARY ? value : fromBcd(value);
  }

  private encodeHour(hour: number): number {
    if (this.nvram[REG_B]! & B_24H) return this.encode(hour);
    const twelve = hour % 12 === 0 ? 12 : hour % 12;
    return this.encode(twelve) | (hour >= 12 ? HOUR_PM : 0);
  }

  private decodeHour(value: number): number {
    if (this.nvram[REG_B]! & B_24H) return this.decode(value);
    const twelve = this.decode(value & ~HOUR_PM) % 12;
    return value & HOUR_PM ? twelve + 12 : twelve;
  }

  private readCalendar(reg: number, now: number): number {
    const date = new Date(this.seconds(now) * 1000);
    switch (reg) {
      case SECONDS:
        return this.encode(date.getUTCSeconds());
      case MINUTES:
        return this.encode(date.getUTCMinutes());
      case HOURS:
        return this.encodeHour(date.getUTCHours());
      case DAY_OF_WEEK:
        return this.encode(((date.getUTCDay() + this.weekdayOffset) % 7) + 1); // 1 = Sunday
      case DAY_OF_MONTH:
        return this.encode(date.getUTCDate());
      case MONTH:
        return this.encode(date.getUTCMonth() + 1);
      case YEAR:
        return this.encode(date.getUTCFullYear() % 100);
      default: // CENTURY
        return this.encode(Math.floor(date.getUTCFullYear() / 100));
    }
  }

  private writeCalendar(reg: number, value: number, now: number): void {
    const date = new Date(this.seconds(now) * 1000);
    let year = date.getUTCFullYear();
    let month = date.getUTCMonth();
    let day = date.getUTCDate();
    let hour = date.getUTCHours();
    let minute = date.getUTCMinutes();
    let second = date.getUTCSeconds();
    switch (reg) {
      case SECONDS:
        second = this.decode(value);
        break;
      case MINUTES:
        minute = this.decode(value);
        break;
      case HOURS:
        hour = this.decodeHour(value);
        break;
      case DAY_OF_WEEK:
        this.weekdayOffset = (((this.decode(value) - 1 - date.getUTCDay()) % 7) + 7) % 7;
        return;
      case DAY_OF_MONTH:
        day = this.decode(value);
        break;
      case MONTH:
        month = this.decode(value) - 1;
        break;
      case YEAR:
        year = year - (year % 100) + this.decode(value);
        break;
      default: // CENTURY
        year = this.decode(value) * 100 + (year % 100);
    }
    this.setSeconds(Date.UTC(year, month, day, hour, minute, second) / 1000, now);
  }

  /** The periodic interrupt's period in ns, or 0 when the rate select is 0. */
  private periodNs(): number {
    const rate = this.nvram[REG_A]! & A_RATE;
    if (rate === 0) return 0;
    // Rates 1 and 2 repeat rates 8 and 9 (data sheet, periodic rate table).
    const cycles = 1 << ((rate < 3 ? rate + 7 : rate) - 1);
    return (cycles * NS_PER_SECOND) / RTC_HZ;
  }

  /** Does the calendar at `seconds` match the three alarm bytes? */
  private alarmMatches(seconds: number): boolean {
    const date = new Date(seconds * 1000);
    const match = (alarm: number, value: number) => (alarm & ALARM_ANY) === ALARM_ANY || alarm === value;
    return (
      match(this.nvram[SECONDS_ALARM]!, this.encode(date.getUTCSeconds())) &&
      match(this.nvram[MINUTES_ALARM]!, this.encode(date.getUTCMinutes())) &&
      match(this.nvram[HOURS_ALARM]!, this.encodeHour(date.getUTCHours()))
    );
  }

  /** Sets register C's flags for every periodic tick and update cycle in (flagsUpTo, now]. */
  private refreshFlags(now: number): void {
    const from = this.flagsUpTo;
    if (now <= from) return;
    this.flagsUpTo = now;
    const period = this.periodNs();
    if (period > 0 && (this.nvram[REG_A]! & A_DIVIDER) === A_DIVIDER_NORMAL) {
      if (Math.floor(now / period) > Math.floor(from / period)) this.flags |= C_PF;
    }
    if (!this.running) return;
    const first = Math.floor((from - this.baseNs) / NS_PER_SECOND) + 1;
    const last = Math.floor((now - this.baseNs) / NS_PER_SECOND);
    if (last < first) return;
    this.flags |= C_UF;
    // The alarm is checked at each update; any day contains every matching time.
    const start = Math.max(first, last - DAY_SECONDS);
    for (let k = start; k <= last; k++) {
      if (this.alarmMatches(this.baseSeconds + k)) {
        this.flags |= C_AF;
        break;
      }
    }
  }

  /** Drives IRQ 8 from IRQF and arms the timer for the next event an enabled interrupt waits for. */
  private update(): void {
    const enables = this.nvram[REG_B]! & (B_PIE | B_AIE | B_UIE);
    const level = (this.flags & enables) !== 0;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq(level);
    }
    const now = this.clock.now();
    let next = Infinity;
    const period = this.periodNs();
    if (enables & B_PIE && period > 0 && !(this.flags & C_PF)) next = (Math.floor(now / period) + 1) * period;
    const waitsForUpdate = (enables & B_UIE && !(this.flags & C_UF)) || (enables & B_AIE && !(this.flags & C_AF));
    if (waitsForUpdate && this.running) {
      next = Math.min(next, this.baseNs + (Math.floor((now - this.baseNs) / NS_PER_SECOND) + 1) * NS_PER_SECOND);
    }
    if (next === Infinity) this.timer.cancel();
    else this.timer.arm(Math.ceil(next));
  }

  read(port: number, _size: IoSize): number {
    if (port === CMOS_INDEX_PORT) return 0xff; // the index register is write-only
    const now = this.clock.now();
    const reg = this.index;
    switch (reg) {
      case SECONDS:
      case MINUTES:
      case HOURS:
      case DAY_OF_WEEK:
      case DAY_OF_MONTH:
      case MONTH:
      case YEAR:
      case CENTURY:
        return this.readCalendar(reg, now);
      case REG_A: {
        const phase = (((now - this.baseNs) % NS_PER_SECOND) + NS_PER_SECOND) % NS_PER_SECOND;
        const uip = this.running && phase >= NS_PER_SECOND - UIP_LEAD_NS;
        return (this.nvram[REG_A]! & ~A_UIP) | (uip ? A_UIP : 0);
      }
      case REG_C: {
        this.refreshFlags(now);
        const enables = this.nvram[REG_B]! & (B_PIE | B_AIE | B_UIE);
        const value = this.flags | (this.flags & enables ? C_IRQF : 0);
        this.flags = 0;
        this.update();
        return value;
      }
      default:
        return this.nvram[reg]!;
    }
  }

  write(port: number, _size: IoSize, value: number): void {
    if (port === CMOS_INDEX_PORT) {
      this.index = value & 0x7f;
      this.nmiMasked = (value & 0x80) !== 0;
      return;
    }
    const now = this.clock.now();
    const reg = this.index;
    switch (reg) {
      case SECONDS:
      case MINUTES:
      case HOURS:
      case DAY_OF_WEEK:
      case DAY_OF_MONTH:
      case MONTH:
      case YEAR:
      case CENTURY:
        this.writeCalendar(reg, value, now);
        return;
      case REG_A:
      case REG_B: {
        this.refreshFlags(now);
        const wasRunning = this.running;
        const current = this.seconds(now);
        if (reg === REG_A) this.nvram[REG_A] = value & ~A_UIP;
        // Setting SET stops updates and clears UIE (data sheet, register B).
        else this.nvram[REG_B] = value & B_SET ? value & ~B_UIE : value;
        if (wasRunning && !this.running) {
          this.held = current;
        } else if (!wasRunning && this.running) {
          // Updates resume with a full second to the next one.
          this.held = undefined;
          this.baseSeconds = current;
          this.baseNs = now;
        }
        this.update();
        return;
      }
      case REG_C:
      case REG_D:
        return; // read-only
      default:
        this.nvram[reg] = value;
    }
  }
}
