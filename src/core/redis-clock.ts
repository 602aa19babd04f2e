/**
 * One clock for firing: Redis' clock (TIME), as this node estimates it.
 *
 * Due times are Redis-clock milliseconds (a producer's delay is computed
 * against it too), so a node whose own clock runs ahead would start every
 * task early by its skew. Each heartbeat reads Redis' TIME inside its
 * script; the node notes its monotonic time when it sent the call and when
 * the reply came, so Redis' reading was taken somewhere in between: at the
 * midpoint, within ± half the round trip. The sample with the shortest
 * round trip of the last `keepMs` is kept (the most exact; older ones are
 * dropped so drift between the two clocks cannot accumulate), and Redis' time
 * now is that sample's reading plus the monotonic time elapsed since. The
 * node's own wall clock plays no part, so a step of it (NTP, a VM resumed
 * from a snapshot, a laptop that slept) changes nothing here; it only shows
 * as `offsetMs`.
 *
 * `now()` answers the earliest Redis time it can be (the estimate minus
 * its error), so a start held until now() >= due is never early by Redis'
 * clock, at the cost of half a round trip (a fraction of a ms on a LAN).
 * Before the first sample `now()` is the wall clock.
 */
export interface RedisClockOptions {
  /** Monotonic ms (performance.now). */
  monotonic?: () => number;
  /** This machine's wall clock (Date.now): only for the fallback and offsetMs. */
  wall?: () => number;
  /** Samples older than this are dropped (ms). */
  keepMs?: number;
}

interface Sample {
  /** Monotonic ms at the midpoint of the call. */
  midMono: number;
  /** Redis' clock at that midpoint (ms, fractional). */
  redisMs: number;
  /** Half the round trip: the reading was within ± this of the midpoint. */
  errorMs: number;
}

/** Samples kept: a minute of heartbeats at the default renew interval is plenty to find a fast one. */
const MAX_SAMPLES = 64;

export class RedisClock {
  private readonly monotonic: () => number;
  private readonly wall: () => number;
  private readonly keepMs: number;
  private readonly samples: Sample[] = [];
  private best: Sample | null = null;

  constructor(options: RedisClockOptions = {}) {
    this.monotonic = options.monotonic ?? (() => performance.now());
    this.wall = options.wall ?? (() => Date.now());
    this.keepMs = options.keepMs ?? 60_000;
  }

  /** A reading of Redis' TIME (ms) taken by a call sent at sentMono and answered at receivedMono (monotonic ms). */
  sample(sentMono: number, receivedMono: number, redisMs: number): void {
    if (!(receivedMono >= sentMono) || !Number.isFinite(redisMs)) return;
    const fresh: Sample = { midMono: (sentMono + receivedMono) / 2, redisMs, errorMs: (receivedMono - sentMono) / 2 };
    this.samples.push(fresh);
    const oldest = receivedMono - this.keepMs;
    while (this.samples.length > MAX_SAMPLES || (this.samples.length > 1 && this.samples[0]!.midMono < oldest)) this.samples.shift();
    let best = this.samples[0]!;
    for (const candidate of this.samples) if (candidate.errorMs < best.errorMs) best = candidate;
    this.best = best;
  }

  /** Whether a sample has been taken (before that, now() is the wall clock). */
  get synced(): boolean {
    return this.best !== null;
  }

  /** The earliest Redis time it can be now (ms since epoch, integer). */
  now(): number {
    const best = this.best;
    if (best === null) return this.wall();
    return Math.floor(best.redisMs + (this.monotonic() - best.midMono) - best.errorMs);
  }

  /** This node's wall clock minus Redis' (ms, rounded); null before the first sample. */
  get offsetMs(): number | null {
    const best = this.best;
    if (best === null) return null;
    return Math.round(this.wall() - (best.redisMs + (this.monotonic() - best.midMono)));
  }

  /** How far off the estimate can be (ms): half the round trip of the sample it rests on. */
  get errorMs(): number | null {
    return this.best === null ? null : Math.round(this.best.errorMs * 100) / 100;
  }
}
