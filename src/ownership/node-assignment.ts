/**
 * The assignment as one node asks for it every lease round: its own shards
 * among the live members. Remembers the last answer, because the member set
 * rarely changes and assigning 16,384 shards over a dozen nodes sorts
 * ~200,000 pairs.
 */
import { assignShards } from "./assignment.ts";
import type { ShardMap } from "../core/shard-map.ts";

export class NodeAssignment {
  private key = "";
  private assignment: Map<string, number[]> = new Map();

  /**
   * The node's shards of the map; a new map (another epoch) is assigned
   * afresh. While a resize runs, every shard that exists (old and new, the
   * map's span) has an owner: the sources move their slots out, the new
   * shards fire what lands in them.
   */
  shardsFor(nodeId: string, liveNodeIds: readonly string[], shards: ShardMap): number[] {
    const key = `${shards.span}:${shards.epoch}\n${[...liveNodeIds].sort().join("\n")}`;
    if (key !== this.key) {
      this.assignment = assignShards(liveNodeIds, shards.span);
      this.key = key;
    }
    return this.assignment.get(nodeId) ?? [];
  }
}
