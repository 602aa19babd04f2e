/**
 * GapCollector: has the runtime collect its young generation at a moment the
 * node picks, when none of its timers is due for a few ms, instead of when
 * the runtime's own timers say.
 *
 * Why: at a moderate rate (about 1,000 starts a second) most of a node's
 * late starts are its collections. Bun and JSC start them from timers about
 * twice a second, whatever the node is about to do, and a collection that
 * begins a ms before a held start is due delays that start by the whole
 * pause (1.5-14 ms on this machine; BENCHMARKS.md, "The seventh session").
 * Collected in a gap of the node's own alarms, the pause falls where no
 * start is waiting, and the runtime's timers then find little to collect.
 * The cost: more, smaller collections (about five a second at 1,000 starts
 * a second, against the runtime's two), ~1 % of a core.
 *
 * At high rates (5,000 starts a second and more) every ms has starts and no
 * gap comes. Left to the runtime, the collections there are few and long:
 * at 20,000 a second, ~2 a second whose cycles took 25 ms (median) to 110
 * ms, the runtime slowing the node's thread while its markers ran on a
 * machine whose cores were busy already; that is where the tail of that
 * rate came from. So once a search for a gap has failed for
 * `gaplessAfterMs`, the collector stops waiting for one: it collects every
 * `gaplessEveryMs` (~20 a second, each a pause of ~2 ms, p90 ~5), which
 * leaves the runtime little to collect on its own ("The ninth session" in
 * BENCHMARKS.md). A check that finds a gap again returns it to the gaps.
 *
 * What and when: `fired()` is told after each of the clock's timer slots
 * ran; at most every `everyMs` (`gaplessEveryMs` while gapless), and only
 * after `minFires` slots (an idle node allocates little and is left to the
 * runtime), it looks at the next armed alarm once the current turn's work
 * is done (`defer`), and collects if that alarm is at least `gapMs` away, or
 * while gapless, and the node is not `busy`. A busy node (a burst: its
 * starts come from claims, not timers) is left to the runtime, whose
 * collections mark on other threads while this one's runs on the node's
 * own. Pure apart from the injected clock, alarm lookup, collector, pause
 * timer (`elapsed`, performance.now by default) and deferral.
 */

export interface GapCollectorOptions {
  /** The clock the alarms are armed in (ms). */
  now: () => number;
  /** The earliest armed alarm (ms, same clock), or undefined when none is armed. */
  nextAlarmMs: () => number | undefined;
  /** Collects (in a node: bun:jsc edenGC, synchronous). */
  collect: () => void;
  /** True while the node is too busy for a collection of its own (in a node: a quarter of the pool's slots running). */
  busy?: () => boolean;
  /** Runs fn after the current turn's I/O and callbacks (in a node: setImmediate). */
  defer: (fn: () => void) => void;
  /**
   * A collection runs only with no alarm due within this many ms. A young collection of a node
   * takes ~2-2.5 ms here (median; p90 ~3.5-4): 3 ms leaves most of them room, and at 1,000
   * starts a second one in 20 starts is followed by a gap that long, plenty for one collection
   * every `everyMs`.
   */
  gapMs?: number;
  /** At most one collection per this many ms: ~5 a second, against the runtime's ~2. */
  everyMs?: number;
  /** Timer slots fired since the last collection before another is tried (not while gapless). */
  minFires?: number;
  /** How long checks may find no gap before the collector stops waiting for one. */
  gaplessAfterMs?: number;
  /** While gapless, one collection per this many ms, gap or not. */
  gaplessEveryMs?: number;
  /**
   * A monotonic clock with sub-ms resolution (ms) that times each collection's pause (in a node:
   * performance.now). The wheel clock's whole ms cannot: a young collection here takes 1.5-3 ms.
   */
  elapsed?: () => number;
}

export const DEFAULT_GAP_MS = 3;
export const DEFAULT_GAP_EVERY_MS = 200;
export const DEFAULT_GAP_MIN_FIRES = 50;
/** 20,000/s, alternating runs: collections every 50 ms took p99 from 13-47 to 12-15 ms; every 100 ms did not help, every 10 ms cost CPU. */
export const DEFAULT_GAPLESS_EVERY_MS = 50;
/** At 1,000 starts a second a 3-ms gap comes within a few slots; 50 ms of none is a rate with no gaps. */
export const DEFAULT_GAPLESS_AFTER_MS = 50;

export class GapCollector {
  private readonly options: Required<GapCollectorOptions>;
  private lastAtMs = -Infinity;
  private firesSince = 0;
  private checkQueued = false;
  private stopped = false;
  /** When the current run of checks that found no gap began (null: the last check found one, or none failed yet). */
  private missingSinceMs: number | null = null;
  /** No gap came for gaplessAfterMs: collecting every gaplessEveryMs, gap or not. */
  private gapless = false;
  /** Collections run (tickwheel_gc_gap_collections_total). */
  collections = 0;
  /** Of them, collections run with no gap, while gapless. */
  gaplessCollections = 0;
  /** Checks that found an alarm too close and collected nothing. */
  skipped = 0;
  /**
   * Time the node's thread spent in these collections (ms, summed): every start due meanwhile
   * waited for it (tickwheel_gc_gap_pause_seconds_total; BENCHMARKS.md, "The sixteenth session").
   */
  pausedMs = 0;

  constructor(options: GapCollectorOptions) {
    this.options = {
      gapMs: DEFAULT_GAP_MS,
      everyMs: DEFAULT_GAP_EVERY_MS,
      minFires: DEFAULT_GAP_MIN_FIRES,
      gaplessAfterMs: DEFAULT_GAPLESS_AFTER_MS,
      gaplessEveryMs: DEFAULT_GAPLESS_EVERY_MS,
      busy: () => false,
      elapsed: () => performance.now(),
      ...options,
    };
  }

  /** A timer slot of the clock has run. */
  fired(): void {
    this.firesSince++;
    if (this.stopped || this.checkQueued) return;
    if (this.gapless) {
      if (this.options.now() - this.lastAtMs < this.options.gaplessEveryMs) return;
    } else {
      if (this.firesSince < this.options.minFires) return;
      if (this.options.now() - this.lastAtMs < this.options.everyMs) return;
    }
    this.checkQueued = true;
    this.options.defer(() => this.check());
  }

  /** No more collections (a check already deferred does nothing). */
  stop(): void {
    this.stopped = true;
  }

  private check(): void {
    this.checkQueued = false;
    if (this.stopped) return;
    if (this.options.busy()) {
      this.skipped++;
      return;
    }
    const nowMs = this.options.now();
    const next = this.options.nextAlarmMs();
    const gap = next === undefined || next >= nowMs + this.options.gapMs;
    if (gap) {
      this.missingSinceMs = null;
      this.gapless = false;
    } else if (!this.gapless) {
      this.missingSinceMs ??= nowMs;
      if (nowMs - this.missingSinceMs < this.options.gaplessAfterMs) {
        // Tried again after the next slot fires.
        this.skipped++;
        return;
      }
      this.gapless = true;
    }
    const began = this.options.elapsed();
    this.options.collect();
    this.pausedMs += this.options.elapsed() - began;
    this.collections++;
    if (!gap) this.gaplessCollections++;
    this.lastAtMs = this.options.now();
    this.firesSince = 0;
  }
}
