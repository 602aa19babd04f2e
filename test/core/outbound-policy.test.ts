// The outbound check of webhook URLs: the always-refused ranges, the address tricks that hide
// them, and the configurable deny and allow lists. Pure: no network.
import { describe, expect, test } from "bun:test";
import { embeddedIpv4, formatIp, parseIp, parseRange, rangeContains } from "../../src/core/ip-address.ts";
import {
  checkWebhookUrl,
  DEFAULT_OUTBOUND_POLICY,
  OutboundPolicyError,
  parseOutboundPolicy,
  refusalOfAddress,
  refusalOfName,
} from "../../src/core/outbound-policy.ts";

function refusedAtSchedule(url: string, policy = DEFAULT_OUTBOUND_POLICY): string | null {
  const checked = checkWebhookUrl(url, policy);
  return "refused" in checked ? checked.refused : null;
}

describe("ip addresses", () => {
  test("parses IPv4 and IPv6 (compressed, embedded IPv4, zone) and refuses the rest", () => {
    expect(formatIp(parseIp("10.0.0.1")!)).toBe("10.0.0.1");
    expect(formatIp(parseIp("[fe80::1%eth0]")!)).toBe("fe80:0:0:0:0:0:0:1");
    expect(formatIp(parseIp("::ffff:1.2.3.4")!)).toBe("0:0:0:0:0:ffff:102:304");
    expect(parseIp("1::2::3")).toBeNull();
    expect(parseIp("1:2:3:4:5:6:7:8:9")).toBeNull();
    expect(parseIp("256.1.1.1")).toBeNull();
    // Leading zeros are octal to some parsers: not canonical, not an address here.
    expect(parseIp("0177.0.0.1")).toBeNull();
    expect(parseIp("example.com")).toBeNull();
  });

  test("ranges match by prefix, per family", () => {
    const range = parseRange("172.16.0.0/12")!;
    expect(rangeContains(range, parseIp("172.31.255.255")!)).toBe(true);
    expect(rangeContains(range, parseIp("172.32.0.0")!)).toBe(false);
    expect(rangeContains(parseRange("fe80::/10")!, parseIp("febf::1")!)).toBe(true);
    expect(rangeContains(parseRange("fe80::/10")!, parseIp("fec0::1")!)).toBe(false);
    expect(rangeContains(range, parseIp("::ffff:172.16.0.1")!)).toBe(false);
    expect(parseRange("10.0.0.0/33")).toBeNull();
  });

  test("IPv6 forms that carry an IPv4 address unwrap to it", () => {
    for (const text of ["::ffff:169.254.169.254", "::169.254.169.254", "64:ff9b::a9fe:a9fe", "2002:a9fe:a9fe::1"]) {
      expect(formatIp(embeddedIpv4(parseIp(text)!)!)).toBe("169.254.169.254");
    }
    expect(embeddedIpv4(parseIp("::1")!)).toBeNull();
    expect(embeddedIpv4(parseIp("2001:db8::1")!)).toBeNull();
  });
});

describe("schedule-time check, default policy", () => {
  test("public, private and loopback addresses and names pass", () => {
    for (const url of ["https://hooks.example.com/x?y=1", "http://10.1.2.3:8080/hook", "http://127.0.0.1:3000/", "http://[::1]:3000/", "http://localhost:3000/"]) {
      expect(refusedAtSchedule(url)).toBeNull();
    }
  });

  test("metadata addresses and names are refused, however they are written", () => {
    const cases: [string, RegExp][] = [
      ["http://169.254.169.254/latest/meta-data/", /169\.254\.169\.254 is a cloud metadata address/],
      ["http://2852039166/", /169\.254\.169\.254 is a cloud metadata address/], // decimal
      ["http://0xa9.0xfe.0xa9.0xfe/", /169\.254\.169\.254 is a cloud metadata address/], // hex
      ["http://0251.0376.0251.0376/", /169\.254\.169\.254 is a cloud metadata address/], // octal
      ["http://[::ffff:169.254.169.254]/", /reaches 169\.254\.169\.254\) is a cloud metadata address/],
      ["http://[fd00:ec2::254]/", /is a cloud metadata address/],
      ["http://100.100.100.200/", /cloud metadata/],
      ["http://metadata.google.internal/computeMetadata/v1/", /metadata\.google\.internal is a cloud metadata service/],
      ["http://METADATA.google.internal./", /cloud metadata service/],
    ];
    for (const [url, reason] of cases) expect(refusedAtSchedule(url)).toMatch(reason);
  });

  test("link-local, unspecified, multicast and reserved addresses are refused", () => {
    expect(refusedAtSchedule("http://169.254.1.1/")).toMatch(/link-local/);
    expect(refusedAtSchedule("http://[fe80::1]/")).toMatch(/link-local/);
    expect(refusedAtSchedule("http://0.0.0.0:8080/")).toMatch(/unspecified/);
    expect(refusedAtSchedule("http://0/")).toMatch(/unspecified/);
    expect(refusedAtSchedule("http://[::]/")).toMatch(/unspecified/);
    expect(refusedAtSchedule("http://224.0.0.1/")).toMatch(/multicast/);
    expect(refusedAtSchedule("http://255.255.255.255/")).toMatch(/reserved/);
    expect(refusedAtSchedule("http://[::ffff:0.0.0.0]/")).toMatch(/unspecified/);
  });

  test("syntax, scheme and credentials", () => {
    expect(refusedAtSchedule("not a url")).toMatch(/absolute http/);
    expect(refusedAtSchedule("/relative")).toMatch(/absolute http/);
    expect(refusedAtSchedule("ftp://example.com/")).toMatch(/got ftp:/);
    expect(refusedAtSchedule("file:///etc/passwd")).toMatch(/got file:/);
    expect(refusedAtSchedule("https://user:pass@example.com/")).toMatch(/credentials/);
    expect(refusedAtSchedule(`https://example.com/${"a".repeat(3000)}`)).toMatch(/at most 2048/);
  });
});

describe("configured policy", () => {
  test("TICKWHEEL_WEBHOOK_DENY=loopback,private refuses those ranges, also mapped", () => {
    const policy = parseOutboundPolicy({ deny: "loopback, private" });
    expect(refusedAtSchedule("http://127.0.0.1/", policy)).toMatch(/loopback, refused by TICKWHEEL_WEBHOOK_DENY/);
    expect(refusedAtSchedule("http://[::1]/", policy)).toMatch(/loopback/);
    expect(refusedAtSchedule("http://[::ffff:127.0.0.1]/", policy)).toMatch(/reaches 127\.0\.0\.1\) is loopback/);
    expect(refusedAtSchedule("http://2130706433/", policy)).toMatch(/loopback/);
    expect(refusedAtSchedule("http://192.168.1.10/", policy)).toMatch(/private range/);
    expect(refusedAtSchedule("http://[fd12::1]/", policy)).toMatch(/private range/);
    expect(refusedAtSchedule("https://8.8.8.8/", policy)).toBeNull();
    // A name is judged at delivery, on what it resolves to.
    expect(refusedAtSchedule("http://localhost/", policy)).toBeNull();
    expect(refusalOfAddress(parseIp("127.0.0.1")!, "localhost", policy)).toMatch(/loopback/);
  });

  test("an ALLOW CIDR is an exception to DENY, never to the built-in refusals", () => {
    const policy = parseOutboundPolicy({ deny: "private", allow: "10.1.2.0/24, 169.254.0.0/16" });
    expect(refusalOfAddress(parseIp("10.1.2.7")!, null, policy)).toBeNull();
    expect(refusalOfAddress(parseIp("10.9.9.9")!, null, policy)).toMatch(/private/);
    expect(refusalOfAddress(parseIp("169.254.169.254")!, null, policy)).toMatch(/metadata/);
  });

  test("an allow-list of names and CIDRs admits only those", () => {
    const policy = parseOutboundPolicy({ allow: "hooks.example.com, *.internal.example, 203.0.113.0/24" });
    expect(refusalOfName("hooks.example.com", policy)).toBeNull();
    expect(refusalOfAddress(parseIp("198.51.100.1")!, "hooks.example.com", policy)).toBeNull();
    expect(refusalOfAddress(parseIp("198.51.100.1")!, "a.b.internal.example", policy)).toBeNull();
    expect(refusalOfAddress(parseIp("198.51.100.1")!, "internal.example", policy)).toMatch(/not in TICKWHEEL_WEBHOOK_ALLOW/);
    expect(refusalOfAddress(parseIp("198.51.100.1")!, "other.example.com", policy)).toMatch(/not in TICKWHEEL_WEBHOOK_ALLOW/);
    expect(refusalOfAddress(parseIp("203.0.113.9")!, "other.example.com", policy)).toBeNull();
    expect(refusedAtSchedule("https://198.51.100.1/", policy)).toMatch(/not in TICKWHEEL_WEBHOOK_ALLOW/);
    // With only names listed, an unlisted name is refused before any lookup.
    const namesOnly = parseOutboundPolicy({ allow: "hooks.example.com" });
    expect(refusedAtSchedule("https://evil.example.net/", namesOnly)).toMatch(/evil\.example\.net is not in TICKWHEEL_WEBHOOK_ALLOW/);
    expect(refusedAtSchedule("https://hooks.example.com/", namesOnly)).toBeNull();
  });

  test("bad entries name the variable and the entry", () => {
    expect(() => parseOutboundPolicy({ deny: "publicish" })).toThrow(OutboundPolicyError);
    expect(() => parseOutboundPolicy({ deny: "publicish" })).toThrow(/TICKWHEEL_WEBHOOK_DENY: "publicish"/);
    expect(() => parseOutboundPolicy({ allow: "10.0.0.0/40" })).toThrow(/TICKWHEEL_WEBHOOK_ALLOW: "10.0.0.0\/40"/);
    expect(() => parseOutboundPolicy({ allow: "http://x" })).toThrow(/TICKWHEEL_WEBHOOK_ALLOW/);
    expect(parseOutboundPolicy({ allow: " , " }).allowListed).toBe(false);
  });
});

describe("never throws on hostile input", () => {
  test("random URLs and address texts are judged, not crashed on", () => {
    const alphabet = "0123456789abcdefx:.[]/%@-_ ?#ÿ\u0000";
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const text = (length: number) => Array.from({ length }, () => alphabet[Math.floor(random() * alphabet.length)]).join("");
    for (let i = 0; i < 5000; i++) {
      const host = text(1 + Math.floor(random() * 40));
      expect(() => parseIp(host)).not.toThrow();
      const checked = checkWebhookUrl(`http://${host}/`, DEFAULT_OUTBOUND_POLICY);
      expect("refused" in checked || "url" in checked).toBe(true);
      expect(() => checkWebhookUrl(`https://[${host}]:8080/x`, parseOutboundPolicy({ deny: "loopback,private" }))).not.toThrow();
    }
  });
});
