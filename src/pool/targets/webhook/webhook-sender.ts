/**
 * Sends one webhook delivery and says what its answer means
 * (webhook-response.ts). Between the schedule-time check and the request it
 * does the delivery-time half of the outbound check: a host name is
 * resolved here, every address it resolves to is judged
 * (core/outbound-policy.ts), and the request is then sent to the checked address
 * itself (Host header and TLS server name keep the name), so a name that
 * resolves to a public address at the check and to 169.254.169.254 a moment
 * later (DNS rebinding) cannot slip through.
 *
 * Connections are Bun fetch's keep-alive pool (one per address and port);
 * many deliveries run at once, bounded by the worker pool. Each request is
 * cut at its timeout by an AbortSignal, body included. Redirects are not
 * followed. Proxy variables (HTTP_PROXY…) are ignored: the checked address
 * must be the one connected to.
 */
import { formatIp, parseIp, type IpAddress } from "../../../core/ip-address.ts";
import { checkWebhookUrl, refusalOfAddress, refusalOfName, type CheckedUrl, type OutboundPolicy } from "../../../core/outbound-policy.ts";
import { buildWebhookRequest, type WebhookDelivery } from "./webhook-request.ts";
import { classifyAnswer, type WebhookVerdict } from "./webhook-response.ts";

/** Resolves a host name to its addresses (text form), as the system resolver would. */
export type HostResolver = (hostname: string) => Promise<string[]>;

export interface WebhookSenderOptions {
  /** TICKWHEEL_WEBHOOK_SECRET; without it nothing is sent (an unsigned webhook cannot be trusted by its receiver). */
  secret: string | undefined;
  policy: OutboundPolicy;
  /** Largest 2xx body read as the task's result (bytes); a larger one is not stored. */
  maxResultBytes: number;
  /** Bun's resolver (it caches answers) unless a test injects one. */
  resolve?: HostResolver;
  now?: () => number;
}

/** The part of a webhook target the sender needs. */
export interface WebhookRequestTarget {
  url: string;
  headers?: Readonly<Record<string, string>>;
}

/** An error body is read this far, for lastError. */
const ERROR_BODY_BYTES = 2048;
/** Parsed URLs kept (most tasks of a deployment go to a handful of URLs); the cache is dropped whole when full. */
const URL_CACHE_SIZE = 1024;

export class WebhookSender {
  private readonly options: WebhookSenderOptions;
  private readonly resolve: HostResolver;
  private readonly now: () => number;
  private readonly checkedUrls = new Map<string, CheckedUrl | { refused: string }>();
  /** Controllers of the requests in flight, aborted together when the node's stop signal fires. */
  private readonly inFlight = new Set<AbortController>();
  private watchedStop: AbortSignal | null = null;

  constructor(options: WebhookSenderOptions) {
    this.options = options;
    this.resolve = options.resolve ?? resolveWithBun;
    this.now = options.now ?? Date.now;
  }

  /** Sends the delivery; never throws (every failure is a verdict). */
  async send(delivery: Omit<WebhookDelivery, "firedAt">, target: WebhookRequestTarget, timeoutMs: number, stopSignal?: AbortSignal): Promise<WebhookVerdict> {
    const secret = this.options.secret;
    if (!secret) return { kind: "retry", error: "webhook not sent: TICKWHEEL_WEBHOOK_SECRET is not set on this node" };
    const checked = this.checkUrl(target.url);
    if ("refused" in checked) return { kind: "dead", error: `webhook not sent: target.url ${checked.refused}` };

    if (stopSignal?.aborted) return { kind: "retry", error: "webhook aborted: node stopping" };
    // One controller and one cleared timer per request. AbortSignal.timeout() + AbortSignal.any()
    // cost ~4x as much here and leave every request's timer pending for the whole timeout.
    const controller = new AbortController();
    const signal = controller.signal;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new Error(`timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    if (stopSignal) this.abortOnStop(stopSignal, controller);
    try {
      const pinned = await this.pin(checked);
      if ("refused" in pinned) return { kind: "dead", error: `webhook not sent: ${pinned.refused}` };
      const firedAt = this.now();
      const request = buildWebhookRequest({ ...delivery, firedAt }, secret, target.headers);
      if (pinned.hostHeader) request.headers.host = pinned.hostHeader;
      const init: BunFetchRequestInit = { method: "POST", body: request.body, headers: request.headers, redirect: "manual", signal, proxy: false };
      if (pinned.serverName) init.tls = { serverName: pinned.serverName };
      const response = await fetch(pinned.fetchUrl, init);
      const ok = response.status >= 200 && response.status < 300;
      const bodyText = await readBounded(response, ok ? this.options.maxResultBytes : ERROR_BODY_BYTES, ok);
      return classifyAnswer(
        { status: response.status, statusText: response.statusText, retryAfter: response.headers.get("retry-after"), location: response.headers.get("location"), bodyText },
        this.now(),
      );
    } catch (error) {
      if (timedOut) return { kind: "retry", error: `webhook timed out after ${timeoutMs} ms` };
      if (stopSignal?.aborted) return { kind: "retry", error: "webhook aborted: node stopping" };
      return { kind: "retry", error: `webhook request failed: ${describeError(error)}` };
    } finally {
      clearTimeout(timer);
      this.inFlight.delete(controller);
    }
  }

  /** Tracks the request for the stop signal: one listener per signal, not one per request. */
  private abortOnStop(stopSignal: AbortSignal, controller: AbortController): void {
    this.inFlight.add(controller);
    if (this.watchedStop === stopSignal) return;
    this.watchedStop = stopSignal;
    stopSignal.addEventListener(
      "abort",
      () => {
        for (const inFlight of this.inFlight) inFlight.abort(stopSignal.reason);
      },
      { once: true },
    );
  }

  /** The schedule-time check again (the policy may have changed since), cached per URL text. */
  private checkUrl(url: string): CheckedUrl | { refused: string } {
    let checked = this.checkedUrls.get(url);
    if (!checked) {
      checked = checkWebhookUrl(url, this.options.policy);
      if (this.checkedUrls.size >= URL_CACHE_SIZE) this.checkedUrls.clear();
      this.checkedUrls.set(url, checked);
    }
    return checked;
  }

  /** Where to connect: the literal address, or the checked address a name resolves to now. */
  private async pin(checked: CheckedUrl): Promise<{ fetchUrl: string; hostHeader?: string; serverName?: string } | { refused: string }> {
    if (checked.address) return { fetchUrl: checked.url.href };
    const refusedName = refusalOfName(checked.hostname, this.options.policy);
    if (refusedName) return { refused: refusedName };
    let resolved: string[];
    try {
      resolved = await this.resolve(checked.hostname);
    } catch (error) {
      throw new Error(`could not resolve ${checked.hostname}: ${describeError(error)}`);
    }
    const addresses: IpAddress[] = [];
    for (const text of resolved) {
      const address = parseIp(text);
      if (!address) return { refused: `${checked.hostname} resolved to ${JSON.stringify(text)}, not an IP address` };
      addresses.push(address);
    }
    if (addresses.length === 0) throw new Error(`could not resolve ${checked.hostname}: no addresses`);
    // Every address is judged, not only the one used: a name that mixes a public and a refused
    // address is refused as a whole (it is a rebinding setup, or a mistake worth seeing).
    for (const address of addresses) {
      const refusal = refusalOfAddress(address, checked.hostname, this.options.policy);
      if (refusal) return { refused: `${checked.hostname} resolved to ${refusal}` };
    }
    const address = addresses[0]!;
    const hostPart = address.family === 6 ? `[${formatIp(address)}]` : formatIp(address);
    const url = checked.url;
    const fetchUrl = `${url.protocol}//${hostPart}${url.port ? `:${url.port}` : ""}${url.pathname}${url.search}`;
    return { fetchUrl, hostHeader: url.host, serverName: url.protocol === "https:" ? checked.hostname : undefined };
  }
}

async function resolveWithBun(hostname: string): Promise<string[]> {
  const answers = await Bun.dns.lookup(hostname);
  return answers.map((answer) => answer.address);
}

/**
 * Reads the body up to maxBytes. Answers its text, or for a body over the
 * bound: null when `whole` (a cut JSON result is no result) and the first
 * maxBytes otherwise (an error body, for lastError). Stops reading there.
 */
async function readBounded(response: Response, maxBytes: number, whole: boolean): Promise<string | null> {
  const declared = Number(response.headers.get("content-length") ?? NaN);
  if (Number.isFinite(declared) && declared <= maxBytes) return await response.text();
  if (whole && Number.isFinite(declared)) {
    await response.body?.cancel();
    return null;
  }
  if (!response.body) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      if (whole) return null;
      break;
    }
  }
  const text = Buffer.concat(chunks).subarray(0, maxBytes).toString("utf8");
  return text;
}

function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === "string" && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}
