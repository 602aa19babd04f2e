// The lateness histogram counts into an array and is exposed through a prom-client registry in
// the text format of prom-client's own histograms: cumulative buckets, +Inf, sum and count.
import { expect, test } from "bun:test";
import { Histogram, Registry } from "prom-client";
import { BucketHistogram } from "../../src/metrics/bucket-histogram.ts";

const BUCKETS = [1, 5, 10];

test("buckets are cumulative, values on a bound count in it, and the text matches prom-client's Histogram", async () => {
  const samples = [0, 1, 1.5, 5, 7, 10, 11, 250];
  const ours = new BucketHistogram({ name: "ours_ms", help: "h", buckets: BUCKETS });
  const registry = new Registry();
  registry.registerMetric(ours as unknown as Histogram);
  const reference = new Histogram({ name: "ours_ms", help: "h", buckets: BUCKETS, registers: [] });
  for (const value of samples) {
    ours.observe(value);
    reference.observe(value);
  }
  const text = await registry.metrics();
  expect(text).toContain('ours_ms_bucket{le="1"} 2');
  expect(text).toContain('ours_ms_bucket{le="5"} 4');
  expect(text).toContain('ours_ms_bucket{le="10"} 6');
  expect(text).toContain('ours_ms_bucket{le="+Inf"} 8');
  expect(text).toContain("ours_ms_count 8");
  expect(text).toContain(`ours_ms_sum ${samples.reduce((a, b) => a + b, 0)}`);
  const referenceRegistry = new Registry();
  referenceRegistry.registerMetric(reference);
  expect(text).toBe(await referenceRegistry.metrics());
  ours.reset();
  expect(await registry.metrics()).toContain("ours_ms_count 0");
});
