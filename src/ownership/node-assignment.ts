/**
 * The assignment as one node asks for it every lease round: its own shards
 * among the live members. Remembers the last answer, because the member set
 * rarely changes and assigning 16,384 shards over a dozen nodes sorts
 * ~200,000 pairs.
 */
import { assignShards } from "./assignment.ts";

export class NodeAssignment {
  private key = "";
  private assignment: Map<string, number[]> = new Map();

  shardsFor(nodeId: string, liveNodeIds: readonly string[], shardCount: number): number[] {
    const key = `${shardCount}\n${[...liveNodeIds].sort().join("\n")}`;
    if (key !== this.key) {
      this.assignment = assignShards(liveNodeIds, shardCount);
      this.key = key;
    }
    return this.assignment.get(nodeId) ?? [];
  }
}
