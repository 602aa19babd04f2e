/**
 * Pushes onto another broker server, coalesced: messages for one list that
 * are delivered in one turn of the event loop go out as one LPUSH with many
 * values (FIFO is kept: LPUSH a b c leaves a to be popped first), written at
 * once when SEND_AT of them are waiting, else at the end of the turn. Each
 * delivery's promise settles with its command's answer.
 */

/** What the batcher needs of the broker (the store's CeleryBroker). */
export interface CeleryListPusher {
  pushMany(key: string, envelopes: string[]): Promise<void>;
}

/** As in handoff-batcher.ts: a burst's first messages should not wait for its last ones. */
const SEND_AT = 128;
/** As in handoff-batcher.ts: with nothing in flight, the first messages go out at this size. */
const SEND_FIRST_AT = 16;
/** As in handoff-batcher.ts: bounds what sits in the connection's write buffer. */
const MAX_IN_FLIGHT = 8;

interface Pending {
  envelopes: string[];
  settle: ((error: Error | null) => void)[];
}

export class PushBatcher {
  private readonly pending = new Map<string, Pending>();
  private flushQueued = false;
  /** Pushes sent and not answered yet, and the groups waiting for one of them to answer. */
  private inFlight = 0;
  private readonly waiting: [string, Pending][] = [];

  constructor(private readonly broker: CeleryListPusher) {}

  /** Resolves null once pushed, or with the error. */
  add(key: string, envelope: string): Promise<Error | null> {
    return new Promise((resolve) => {
      let group = this.pending.get(key);
      if (!group) this.pending.set(key, (group = { envelopes: [], settle: [] }));
      group.envelopes.push(envelope);
      group.settle.push(resolve);
      if (group.envelopes.length >= SEND_AT || (this.inFlight === 0 && group.envelopes.length >= SEND_FIRST_AT)) {
        this.pending.delete(key);
        this.send(key, group);
      } else if (!this.flushQueued) {
        this.flushQueued = true;
        queueMicrotask(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.flushQueued = false;
    const groups = [...this.pending];
    this.pending.clear();
    for (const [key, group] of groups) this.send(key, group);
  }

  private send(key: string, group: Pending): void {
    if (this.inFlight >= MAX_IN_FLIGHT) {
      this.waiting.push([key, group]);
      return;
    }
    this.inFlight++;
    this.broker.pushMany(key, group.envelopes).then(
      () => {
        this.sent();
        for (const settle of group.settle) settle(null);
      },
      (error: unknown) => {
        this.sent();
        const failure = error instanceof Error ? error : new Error(String(error));
        for (const settle of group.settle) settle(failure);
      },
    );
  }

  /** A push answered: the next waiting group goes out. */
  private sent(): void {
    this.inFlight--;
    const next = this.waiting.shift();
    if (next) this.send(next[0], next[1]);
  }
}
