/**
 * The narrow parts of the store the pool uses, so the pool and the completer
 * can be tested against a fake of just these methods. (They keep the store's
 * method names; the store's AttemptStore interface will provide them.)
 */
import type { Store } from "../store/store.ts";

/** What the completer writes: finishes (acks, dead, expired) and retries. */
export type CompleterStore = Pick<Store, "finish" | "retry">;
