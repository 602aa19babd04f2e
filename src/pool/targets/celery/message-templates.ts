/**
 * Celery messages for a burst, built from a template per target: the text of
 * buildCeleryMessage's envelope with its seven per-message values cut out
 * (the base64 body, the task id three times, expires, argsrepr and the
 * delivery tag). The tasks of a burst share their target (task, queue,
 * priority, kwargs), so the template is built and checked once and each
 * message is the template's pieces joined around its own values, not an
 * object tree built, walked by the checks and serialized again (the profile's
 * largest node cost of a hand-off).
 *
 * The guarantee is the same as buildCeleryMessage's: nothing is pushed that
 * the checks have not accepted. The template is made from a message that
 * buildCeleryMessage built and checked for this target (every field but the
 * cut-out ones is that message's text), and each cut-out value is checked
 * here by the rule the full check applies to it: a non-empty task id, finite
 * expires, an args array (its JSON, with the template's kwargs and the
 * embed, is the body). The output is byte for byte buildCeleryMessage's
 * (test/pool/targets/celery-message.test.ts holds them equal).
 *
 * For the same-server hand-off the envelope is not even joined here: the
 * script is sent the template once per call and each message's values
 * (CeleryEnvelopeParts), and joins them as join() below does, so a burst's
 * shared text is not written to Redis once per message.
 *
 * A target whose fixed text happens to contain a cut marker (its kwargs, say)
 * is not templated: its messages are built by buildCeleryMessage itself.
 */
import {
  buildCeleryMessage,
  CeleryMessageError,
  CELERY_EMBED_JSON,
  celeryExpiresHeader,
  celeryReprBounded,
  type CeleryMessage,
  type CeleryMessageInput,
  type CeleryTransportOptions,
} from "./message.ts";
import { joinParts, type CeleryEnvelopeParts, type CeleryEnvelopeTemplate } from "../../../store/celery-envelope.ts";

export { joinParts };

/** The per-target part of a message's input; `kwargsJson` is JSON.stringify(kwargs). */
export interface CeleryTemplateKey {
  task: string;
  queue: string;
  priority: number;
  kwargs: Readonly<Record<string, unknown>>;
  kwargsJson: string;
}

/**
 * Templates kept. A deployment's Celery targets are a handful of task names; the cache is dropped
 * whole when full, so a stream of all-different kwargs costs a rebuild per message, no more.
 */
const TEMPLATE_CACHE_SIZE = 256;

/**
 * The cut-out values, in the order JSON.stringify writes them (the envelope's key order in
 * buildCeleryMessage), each found by a marker value that no real value has. `json`: the marker is
 * a whole JSON string (quotes included) and the value goes in as JSON; otherwise the marker is
 * inside the quotes and the value goes in as it is (base64 and UUIDs need no escaping).
 */
const MARK = "\u0001tw-slot-";
const SLOTS = [
  { name: "body", mark: `${MARK}body`, json: false },
  { name: "id", mark: `${MARK}id`, json: true },
  { name: "expires", mark: `${MARK}expires`, json: true },
  { name: "root_id", mark: `${MARK}root`, json: true },
  { name: "argsrepr", mark: `${MARK}argsrepr`, json: true },
  { name: "correlation_id", mark: `${MARK}correlation`, json: true },
  { name: "delivery_tag", mark: `${MARK}tag`, json: false },
] as const;

interface Template extends CeleryEnvelopeTemplate {
  /** The broker list of the target's queue and priority. */
  key: string;
  /** `[` + args JSON + this is the body's text. */
  bodyTail: string;
  /**
   * For an ASCII bodyTail, its base64 from its k-th character on, k = 0, 1, 2; else null. A body
   * whose ASCII head, `[` + args json + the tail's first k characters, is a multiple of 3 bytes
   * long is that head's base64 followed by this: only the short head is encoded per message.
   */
  tailBase64: [string, string, string] | null;
}

/** One message as the same-server hand-off sends it: its list and its envelope, whole or as parts. */
export interface CeleryMessageForHandoff {
  key: string;
  envelope: string | CeleryEnvelopeParts;
}

export class CeleryMessageTemplates {
  private readonly templates = new Map<string, Template | CeleryMessageError | null>();
  private nextSerial = 1;
  /** The last target's key and template: a burst's tasks share their target, so most lookups stop here. */
  private lastKey: CeleryTemplateKey | null = null;
  private lastTemplate: Template | CeleryMessageError | null = null;
  /** Messages made from a template and in full (for tests: a target that should be templated is). */
  readonly counts = { templated: 0, full: 0 };

  constructor(
    private readonly transport: CeleryTransportOptions,
    private readonly origin: string,
  ) {}

  /**
   * The message for one task: as buildCeleryMessage(input) would build it (same text, same
   * errors), from the target's template when it has one.
   */
  build(key: CeleryTemplateKey, id: string, args: readonly unknown[], deliveryTag: string, expiresAtMs: number | null): CeleryMessage {
    const message = this.forHandoff(key, id, args, deliveryTag, expiresAtMs);
    const envelope = message.envelope;
    return typeof envelope === "string" ? { key: message.key, envelope } : { key: message.key, envelope: joinParts(envelope) };
  }

  /** build(), with the envelope left as its template's parts when it has one (the script joins them). */
  forHandoff(key: CeleryTemplateKey, id: string, args: readonly unknown[], deliveryTag: string, expiresAtMs: number | null): CeleryMessageForHandoff {
    const template = this.templateOf(key);
    // The tag goes in unescaped (a UUID needs none): any other text is built in full, escaped.
    if (template === null || typeof id !== "string" || id.length === 0 || !Array.isArray(args) || !PLAIN_TAG.test(deliveryTag)) {
      this.counts.full++;
      return buildCeleryMessage(this.input(key, id, args, deliveryTag, expiresAtMs), this.transport);
    }
    if (template instanceof CeleryMessageError) throw template;
    let expiresJson = "null";
    if (expiresAtMs !== null) {
      if (!Number.isFinite(expiresAtMs)) throw new CeleryMessageError("expiresAt", "expected epoch ms");
      expiresJson = JSON.stringify(celeryExpiresHeader(expiresAtMs));
    }
    this.counts.templated++;
    return { key: template.key, envelope: partsOf(template, id, args, deliveryTag, expiresJson) };
  }

  private input(key: CeleryTemplateKey, id: string, args: readonly unknown[], deliveryTag: string, expiresAtMs: number | null): CeleryMessageInput {
    return { id, task: key.task, args, kwargs: key.kwargs, queue: key.queue, priority: key.priority, deliveryTag, expiresAtMs, origin: this.origin };
  }

  /** The target's template, its error (a target that can never make a valid message), or null (build each in full). */
  private templateOf(key: CeleryTemplateKey): Template | CeleryMessageError | null {
    const last = this.lastKey;
    if (last !== null && key.task === last.task && key.queue === last.queue && key.priority === last.priority && key.kwargsJson === last.kwargsJson) {
      return this.lastTemplate;
    }
    if (typeof key.task !== "string" || typeof key.queue !== "string") return null;
    // Lengths first, so no task or queue text can run into the next field and make another's key.
    const cacheKey = `${key.task.length}:${key.task}${key.queue.length}:${key.queue}${key.priority}:${key.kwargsJson}`;
    let template = this.templates.get(cacheKey);
    if (template === undefined) {
      template = this.makeTemplate(key);
      if (this.templates.size >= TEMPLATE_CACHE_SIZE) this.templates.clear();
      this.templates.set(cacheKey, template);
    }
    this.lastKey = key;
    this.lastTemplate = template;
    return template;
  }

  private makeTemplate(key: CeleryTemplateKey): Template | CeleryMessageError | null {
    // The full build and check, once, for this target: its errors are the target's errors.
    let checked: CeleryMessage;
    try {
      checked = buildCeleryMessage(this.input(key, "x", [], "x", null), this.transport);
    } catch (error) {
      if (error instanceof CeleryMessageError) return error;
      throw error;
    }
    // The same message with markers for the values, cut at them.
    const marked = JSON.parse(checked.envelope) as {
      body: string;
      headers: Record<string, unknown>;
      properties: Record<string, unknown>;
    };
    marked.body = SLOTS[0].mark;
    marked.headers.id = SLOTS[1].mark;
    marked.headers.expires = SLOTS[2].mark;
    marked.headers.root_id = SLOTS[3].mark;
    marked.headers.argsrepr = SLOTS[4].mark;
    marked.properties.correlation_id = SLOTS[5].mark;
    marked.properties.delivery_tag = SLOTS[6].mark;
    const text = JSON.stringify(marked);
    const pieces: string[] = [];
    let from = 0;
    for (const slot of SLOTS) {
      const quoted = JSON.stringify(slot.mark);
      const cut = slot.json ? quoted : quoted.slice(1, -1);
      const at = text.indexOf(cut, from);
      // Each marker exactly once, in order; otherwise the target's own text contains one.
      if (at < 0 || text.split(cut).length !== 2) return null;
      pieces.push(text.slice(from, at));
      from = at + cut.length;
    }
    pieces.push(text.slice(from));
    const template: Template = {
      serial: this.nextSerial++,
      packedPieces: pieces.join("\0"),
      key: checked.key,
      pieces,
      bodyTail: `,${key.kwargsJson},${CELERY_EMBED_JSON}]`,
      tailBase64: NON_ASCII.test(key.kwargsJson) ? null : tailBase64Of(`,${key.kwargsJson},${CELERY_EMBED_JSON}]`),
    };
    // The pieces must give back the checked message itself; if they do not (the envelope's
    // layout changed and this file did not follow), every message is built in full.
    return joinParts(partsOf(template, "x", [], "x", "null")) === checked.envelope ? template : null;
  }
}

/** A message's values for its template. */
function partsOf(template: Template, id: string, args: readonly unknown[], deliveryTag: string, expiresJson: string): CeleryEnvelopeParts {
  const argsJson = JSON.stringify(args);
  return {
    template,
    body: bodyBase64(template, argsJson),
    idJson: JSON.stringify(id),
    expiresJson,
    argsreprJson: JSON.stringify(celeryReprBounded(argsJson)),
    deliveryTag,
  };
}

const NON_ASCII = /[^\x00-\x7f]/;
/** A delivery tag that needs no JSON escaping (randomUUID's are). */
const PLAIN_TAG = /^[\w-]+$/;

/**
 * Base64 of the body's UTF-8 bytes, `[` + args json + the template's tail. Base64 maps each 3 bytes
 * to 4 characters on their own, so when the head is cut at a multiple of 3 bytes the body's base64
 * is the head's followed by the rest's, which the template keeps: per message only the head is
 * encoded (a fifth of the body for a short args array; encoding the whole body was 5 % of a
 * Celery burst's node profile). ASCII is one byte a character, so Latin-1 encodes it exactly, and
 * Buffer's Latin-1 path is the cheapest here (2.5x btoa's).
 */
function bodyBase64(template: Template, argsJson: string): string {
  const tails = template.tailBase64;
  if (tails === null || NON_ASCII.test(argsJson)) return Buffer.from(`[${argsJson}${template.bodyTail}`, "utf8").toString("base64");
  const k = (3 - ((argsJson.length + 1) % 3)) % 3;
  return Buffer.from(`[${argsJson}${template.bodyTail.slice(0, k)}`, "latin1").toString("base64") + tails[k];
}

function tailBase64Of(tail: string): [string, string, string] {
  const rest = (k: number) => Buffer.from(tail.slice(k), "latin1").toString("base64");
  return [rest(0), rest(1), rest(2)];
}

