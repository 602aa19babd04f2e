/**
 * Which node should own which shard, computed by every node from the same
 * input (the live node ids and the shard count) so they all agree without
 * talking to each other. Pure: no clock, no Redis.
 *
 * Rendezvous (highest random weight) hashing with a capacity bound:
 * - every (node, shard) pair gets a pseudo-random weight from a hash of both;
 * - pairs are taken from the heaviest down, and a shard goes to the node of
 *   the first pair that finds the shard unassigned and the node below its
 *   capacity, ceil(shards / nodes).
 * Without the bound, rendezvous alone moves only the shards a joining node
 * wins (or a leaving node held), but can leave one node with noticeably more
 * than its share. The bound caps every node at ceil(shards / nodes); because
 * the weights of the other pairs do not change when a node comes or goes,
 * the pairs taken before and after a change are mostly the same ones, so a
 * join or a leave still moves only a few shards beyond the ones that must
 * move (the unit tests measure it).
 */

type Assignment = Map<string, number[]>;

/**
 * Assigns shards 0..shardCount-1 to the given node ids. The order of
 * `nodeIds` does not matter (duplicates are ignored); every id gets an entry,
 * possibly empty, and each entry is sorted ascending.
 */
export function assignShards(nodeIds: readonly string[], shardCount: number): Assignment {
  if (!Number.isInteger(shardCount) || shardCount < 0) throw new RangeError(`shardCount must be a non-negative integer, got ${shardCount}`);
  const nodes = [...new Set(nodeIds)].sort();
  const assignment: Assignment = new Map(nodes.map((id) => [id, []]));
  if (nodes.length === 0 || shardCount === 0) return assignment;

  const capacity = Math.ceil(shardCount / nodes.length);
  const nodeSeeds = nodes.map(hashString);
  // Pair i is (node floor(i / shardCount), shard i % shardCount). Weights and the
  // sort order live in typed arrays: no object per pair, even at 16,384 shards.
  const pairs = nodes.length * shardCount;
  const weights = new Uint32Array(pairs);
  for (let n = 0; n < nodes.length; n++) {
    const seed = nodeSeeds[n]!;
    for (let s = 0; s < shardCount; s++) weights[n * shardCount + s] = pairWeight(seed, s);
  }
  const order = new Uint32Array(pairs);
  for (let i = 0; i < pairs; i++) order[i] = i;
  // Heaviest first; ties (rare) broken by node order, then shard, so the result is total.
  order.sort((a, b) => weights[b]! - weights[a]! || a - b);

  const owner = new Int32Array(shardCount).fill(-1);
  const load = new Uint32Array(nodes.length);
  let assigned = 0;
  for (let i = 0; i < pairs && assigned < shardCount; i++) {
    const pair = order[i]!;
    const n = Math.floor(pair / shardCount);
    const s = pair - n * shardCount;
    if (owner[s] !== -1 || load[n]! >= capacity) continue;
    owner[s] = n;
    load[n]!++;
    assigned++;
  }
  for (let s = 0; s < shardCount; s++) assignment.get(nodes[owner[s]!]!)!.push(s);
  return assignment;
}

/** The shards one node should own among the given live nodes (empty if it is not among them). */
export function shardsFor(nodeId: string, liveNodeIds: readonly string[], shardCount: number): number[] {
  return assignShards(liveNodeIds, shardCount).get(nodeId) ?? [];
}

/** FNV-1a (32-bit) of the UTF-16 code units; only needs to spread ids, not resist attacks. */
function hashString(value: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < value.length; i++) {
    hash ^= value.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** Weight of a (node, shard) pair: the node's hash and the shard mixed by murmur3's finalizer. */
function pairWeight(nodeSeed: number, shard: number): number {
  let h = (nodeSeed ^ Math.imul(shard + 1, 0x9e3779b1)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
