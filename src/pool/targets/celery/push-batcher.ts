/**
 * Pushes onto another broker server, coalesced: messages for one list (and
 * one template) that are delivered in one turn of the event loop go out as
 * one push of many values (FIFO is kept: LPUSH a b c leaves a to be popped
 * first), written at once when SEND_AT of them are waiting, else at the end
 * of the turn. Each delivery's promise settles with its command's answer.
 */
import type { CeleryEnvelopeParts } from "../../../store/celery-handoff.ts";

/** What the batcher needs of the broker (the store's CeleryBroker). */
export interface CeleryListPusher {
  /** The envelopes are all whole, or all made from one template. */
  pushMany(key: string, envelopes: (string | CeleryEnvelopeParts)[]): Promise<void>;
}

/** As in handoff-batcher.ts: a burst's first messages should not wait for its last ones. */
const SEND_AT = 128;
/** As in handoff-batcher.ts: with nothing in flight, the first messages go out at this size. */
const SEND_FIRST_AT = 16;
/** As in handoff-batcher.ts: bounds what sits in the connection's write buffer. */
const MAX_IN_FLIGHT = 8;

interface Pending {
  key: string;
  envelopes: (string | CeleryEnvelopeParts)[];
  settle: ((error: Error | null) => void)[];
}

export class PushBatcher {
  private readonly pending = new Map<string, Pending>();
  private flushQueued = false;
  /** Pushes sent and not answered yet, and the groups waiting for one of them to answer. */
  private inFlight = 0;
  private readonly waiting: Pending[] = [];

  constructor(private readonly broker: CeleryListPusher) {}

  /**
   * Resolves null once pushed, or with the error. Messages of one list and one template (or whole
   * ones) are grouped: a group is one command.
   */
  add(key: string, envelope: string | CeleryEnvelopeParts): Promise<Error | null> {
    return new Promise((resolve) => {
      const groupKey = typeof envelope === "string" ? key : `${key}\0${envelope.template.serial}`;
      let group = this.pending.get(groupKey);
      if (!group) this.pending.set(groupKey, (group = { key, envelopes: [], settle: [] }));
      group.envelopes.push(envelope);
      group.settle.push(resolve);
      if (group.envelopes.length >= SEND_AT || (this.inFlight === 0 && group.envelopes.length >= SEND_FIRST_AT)) {
        this.pending.delete(groupKey);
        this.send(group);
      } else if (!this.flushQueued) {
        this.flushQueued = true;
        queueMicrotask(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.flushQueued = false;
    const groups = [...this.pending.values()];
    this.pending.clear();
    for (const group of groups) this.send(group);
  }

  private send(group: Pending): void {
    if (this.inFlight >= MAX_IN_FLIGHT) {
      this.waiting.push(group);
      return;
    }
    this.inFlight++;
    this.broker.pushMany(group.key, group.envelopes).then(
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
    if (next) this.send(next);
  }
}
