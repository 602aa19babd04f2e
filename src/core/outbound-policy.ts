/**
 * Where a webhook may be sent. A scheduler that POSTs to any URL a producer
 * gives it is a server-side request forgery tool: a task aimed at
 * http://169.254.169.254/ would hand the node's cloud credentials to
 * whoever can read the task's result. So every URL is judged twice: at
 * schedule time (syntax, scheme, literal addresses, known metadata names)
 * and at delivery, after DNS resolution, on the address the request is then
 * actually sent to (see webhook-sender.ts: the connection is pinned to the
 * checked address, so a name cannot resolve to something else in between).
 *
 * The rules, in order:
 * 1. Always refused, whatever the configuration: cloud metadata addresses
 *    and names, link-local (169.254.0.0/16, fe80::/10), the unspecified /
 *    "this network" range (0.0.0.0/8, ::, which Linux connects to
 *    localhost), multicast and reserved ranges. An IPv6 address that
 *    carries an IPv4 one (::ffff:a.b.c.d and friends) is judged as that
 *    IPv4 address.
 * 2. TICKWHEEL_WEBHOOK_DENY (comma list of CIDRs and the words `loopback`
 *    and `private`) refuses more, except addresses inside a CIDR listed in
 *    TICKWHEEL_WEBHOOK_ALLOW (a narrower exception: DENY=private,
 *    ALLOW=10.1.2.0/24).
 * 3. TICKWHEEL_WEBHOOK_ALLOW, when set (CIDRs, host names, `*.suffix`),
 *    is an allow-list: the URL's host must match a name entry, or every
 *    address it resolves to must be inside a CIDR entry.
 *
 * Loopback and private ranges are allowed by default: the common webhook
 * receiver is a service in the same network (and the tests' is on
 * loopback). A deployment where producers are not trusted sets
 * TICKWHEEL_WEBHOOK_DENY=loopback,private, or an allow-list.
 */
import { embeddedIpv4, findRange, formatIp, parseIp, parseRange, ranges, rangeContains, type IpAddress, type IpRange, type NamedRanges } from "./ip-address.ts";

/** First match names the reason, so metadata comes before the wider link-local range that holds most of it. */
const ALWAYS_REFUSED: readonly NamedRanges[] = [
  ranges(
    "a cloud metadata address",
    "169.254.169.254/32", // AWS, GCP, Azure, OpenStack, DigitalOcean, Oracle instance metadata
    "169.254.170.2/32", // AWS ECS task metadata and credentials
    "168.63.129.16/32", // Azure wire server
    "100.100.100.200/32", // Alibaba Cloud metadata
    "192.0.0.192/32", // Oracle Cloud classic metadata
    "fd00:ec2::254/128", // AWS instance metadata over IPv6
  ),
  ranges("link-local", "169.254.0.0/16", "fe80::/10"),
  ranges("the unspecified (\"this network\") range", "0.0.0.0/8", "::/128"),
  ranges("multicast", "224.0.0.0/4", "ff00::/8"),
  ranges("a reserved range", "240.0.0.0/4"),
];

/** Names of metadata services, refused before any lookup (compared without a trailing dot). */
const METADATA_NAMES = new Set([
  "metadata",
  "metadata.google.internal",
  "metadata.goog",
  "instance-data",
  "instance-data.ec2.internal",
  "metadata.tencentyun.com",
]);

const DENY_WORDS: Record<string, NamedRanges> = {
  loopback: ranges("loopback", "127.0.0.0/8", "::1/128"),
  private: ranges("a private range", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7"),
};

export interface OutboundPolicy {
  /** Extra refused ranges (TICKWHEEL_WEBHOOK_DENY). */
  denied: NamedRanges[];
  /** TICKWHEEL_WEBHOOK_ALLOW's CIDR entries. */
  allowRanges: IpRange[];
  /** TICKWHEEL_WEBHOOK_ALLOW's name entries: exact names, and suffixes (from `*.example.com`, stored as ".example.com"). */
  allowNames: string[];
  /** Whether TICKWHEEL_WEBHOOK_ALLOW was given at all (then it is an allow-list). */
  allowListed: boolean;
}

export const DEFAULT_OUTBOUND_POLICY: OutboundPolicy = Object.freeze({ denied: [], allowRanges: [], allowNames: [], allowListed: false });

export class OutboundPolicyError extends Error {
  readonly code = "invalid_outbound_policy";
  readonly variable: string;
  constructor(variable: string, message: string) {
    super(`${variable}: ${message}`);
    this.name = "OutboundPolicyError";
    this.variable = variable;
  }
}

const NAME_PATTERN = /^(\*\.)?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/;

/** Reads the two settings (comma lists; unset or empty means none). Throws naming the variable and entry. */
export function parseOutboundPolicy(settings: { allow?: string; deny?: string }): OutboundPolicy {
  const policy: OutboundPolicy = { denied: [], allowRanges: [], allowNames: [], allowListed: false };
  for (const entry of splitList(settings.deny)) {
    const word = DENY_WORDS[entry.toLowerCase()];
    if (word) {
      policy.denied.push(word);
      continue;
    }
    const range = parseRange(entry);
    if (!range) throw new OutboundPolicyError("TICKWHEEL_WEBHOOK_DENY", `"${entry}" is not a CIDR, an IP address, "loopback" or "private"`);
    policy.denied.push({ name: `in ${entry}, refused by TICKWHEEL_WEBHOOK_DENY`, ranges: [range] });
  }
  for (const entry of splitList(settings.allow)) {
    policy.allowListed = true;
    const range = parseRange(entry);
    if (range) {
      policy.allowRanges.push(range);
      continue;
    }
    const name = normalizeName(entry);
    if (!NAME_PATTERN.test(name)) throw new OutboundPolicyError("TICKWHEEL_WEBHOOK_ALLOW", `"${entry}" is not a CIDR, an IP address, a host name or *.domain`);
    policy.allowNames.push(name.startsWith("*.") ? name.slice(1) : name);
  }
  return policy;
}

function splitList(text: string | undefined): string[] {
  return (text ?? "")
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
}

function normalizeName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith(".") ? lower.slice(0, -1) : lower;
}

/** Why this address may not be sent to (a sentence fragment naming it), or null when it may. */
export function refusalOfAddress(address: IpAddress, hostname: string | null, policy: OutboundPolicy): string | null {
  const inner = embeddedIpv4(address);
  const judged = inner ?? address;
  const shown = inner ? `${formatIp(address)} (which reaches ${formatIp(inner)})` : formatIp(address);
  const builtIn = findRange(ALWAYS_REFUSED, judged) ?? (inner ? findRange(ALWAYS_REFUSED, address) : null);
  if (builtIn) return `${shown} is ${builtIn.name}`;
  const allowedRange = policy.allowRanges.some((range) => rangeContains(range, judged) || (inner !== null && rangeContains(range, address)));
  const denied = findRange(policy.denied, judged) ?? (inner ? findRange(policy.denied, address) : null);
  if (denied && !allowedRange) {
    return denied.name.startsWith("in ") ? `${shown} is ${denied.name}` : `${shown} is ${denied.name}, refused by TICKWHEEL_WEBHOOK_DENY`;
  }
  if (policy.allowListed && !allowedRange && !(hostname !== null && nameAllowed(hostname, policy))) {
    return `${shown} is not in TICKWHEEL_WEBHOOK_ALLOW`;
  }
  return null;
}

function nameAllowed(hostname: string, policy: OutboundPolicy): boolean {
  const name = normalizeName(hostname);
  return policy.allowNames.some((entry) => (entry.startsWith(".") ? name.endsWith(entry) && name.length > entry.length : name === entry));
}

/** Why this host name may not be sent to before resolving it, or null when it may be resolved and its addresses judged. */
export function refusalOfName(hostname: string, policy: OutboundPolicy): string | null {
  const name = normalizeName(hostname);
  if (METADATA_NAMES.has(name)) return `${name} is a cloud metadata service`;
  if (policy.allowListed && policy.allowRanges.length === 0 && !nameAllowed(name, policy)) {
    // Only names are listed: no address this name resolves to could make it allowed.
    return `${name} is not in TICKWHEEL_WEBHOOK_ALLOW`;
  }
  return null;
}

/** A webhook URL that passed the schedule-time check. */
export interface CheckedUrl {
  url: URL;
  /** The literal address of the host, or null for a name (resolved at delivery). */
  address: IpAddress | null;
  /** Host name or address, without IPv6 brackets. */
  hostname: string;
}

export const MAX_URL_LENGTH = 2048;

/**
 * The schedule-time check. The URL is parsed by the WHATWG parser (the one
 * fetch uses), which turns `http://2130706433/`, `http://0x7f.1/` and
 * friends into the dotted quad they mean, so the literal judged here is the
 * one that would be connected to. Answers the checked URL or why not.
 */
export function checkWebhookUrl(text: unknown, policy: OutboundPolicy): CheckedUrl | { refused: string } {
  if (typeof text !== "string" || text.length === 0) return { refused: "expected an http:// or https:// URL" };
  if (text.length > MAX_URL_LENGTH) return { refused: `expected at most ${MAX_URL_LENGTH} characters` };
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { refused: "expected an absolute http:// or https:// URL" };
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return { refused: `expected an http:// or https:// URL, got ${url.protocol}//` };
  // Credentials in the URL would be stored with the task and shown by GET /v1/tasks/:id.
  if (url.username || url.password) return { refused: "credentials in the URL are not allowed; send them in target.headers" };
  const hostname = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  if (!hostname) return { refused: "expected a host" };
  const address = parseIp(hostname);
  const refusal = address ? refusalOfAddress(address, null, policy) : refusalOfName(hostname, policy);
  if (refusal) return { refused: `refused: ${refusal}` };
  return { url, address, hostname };
}
