/**
 * The Lua scripts, embedded as text and registered on a connection under
 * names derived from their content. ioredis runs a defined command by
 * EVALSHA and falls back to EVAL on NOSCRIPT (a restarted or failed-over
 * Redis), also in pipelines. A rolling deploy, where old and new nodes share
 * one Redis, must never run one version's script with the other's
 * arguments: EVALSHA already names a script by its hash, and naming the
 * command by a hash of the same source keeps that true for every layer
 * without anyone bumping a number when a script changes.
 */
import { createHash } from "node:crypto";
import schedule from "./lua/schedule-4.lua" with { type: "text" };
import scheduleShards from "./lua/schedule-n.lua" with { type: "text" };
import claim from "./lua/claim-6.lua" with { type: "text" };
import finish from "./lua/finish-7.lua" with { type: "text" };
import retry from "./lua/retry-5.lua" with { type: "text" };
import reap from "./lua/reap-5.lua" with { type: "text" };
import extend from "./lua/extend-2.lua" with { type: "text" };
import cancel from "./lua/cancel-5.lua" with { type: "text" };
import reschedule from "./lua/reschedule-3.lua" with { type: "text" };
import promote from "./lua/promote-4.lua" with { type: "text" };
import window from "./lua/window-1.lua" with { type: "text" };
import listCold from "./lua/list-cold-1.lua" with { type: "text" };
import inspect from "./lua/inspect-4.lua" with { type: "text" };
import progress from "./lua/progress-3.lua" with { type: "text" };
import list from "./lua/list-3.lua" with { type: "text" };
import listFinished from "./lua/list-finished-1.lua" with { type: "text" };
import listRunning from "./lua/list-running-4.lua" with { type: "text" };
import retryDead from "./lua/retry-dead-4.lua" with { type: "text" };
import park from "./lua/park-7.lua" with { type: "text" };
import pauseShard from "./lua/pause-shard-1.lua" with { type: "text" };
import resumeShard from "./lua/resume-shard-4.lua" with { type: "text" };
import pausedNames from "./lua/paused-names-1.lua" with { type: "text" };
import leaseAcquire from "./lua/lease-acquire-2.lua" with { type: "text" };
import leaseRenew from "./lua/lease-renew-1.lua" with { type: "text" };
import leaseRelease from "./lua/lease-release-1.lua" with { type: "text" };
import nodeHeartbeat from "./lua/node-heartbeat-2.lua" with { type: "text" };
import nodeLeave from "./lua/node-leave-2.lua" with { type: "text" };
import nodeList from "./lua/node-list-2.lua" with { type: "text" };
import scheduleWrite from "./lua/schedule-write-5.lua" with { type: "text" };
import scheduleDue from "./lua/schedule-due-5.lua" with { type: "text" };
import schedulePlant from "./lua/schedule-plant-5.lua" with { type: "text" };
import scheduleWriteMany from "./lua/schedule-write-many-5.lua" with { type: "text" };
import resizeStart from "./lua/resize-start-1.lua" with { type: "text" };
import resizeFinish from "./lua/resize-finish-1.lua" with { type: "text" };
import resizeMove from "./lua/resize-move-1.lua" with { type: "text" };
import reshardState from "./lua/reshard-state-3.lua" with { type: "text" };
import reshardOut from "./lua/reshard-out-7.lua" with { type: "text" };
import reshardOutCold from "./lua/reshard-out-cold-n.lua" with { type: "text" };
import reshardIn from "./lua/reshard-in-7.lua" with { type: "text" };
import reshardOutSchedules from "./lua/reshard-out-schedules-4.lua" with { type: "text" };
import reshardAck from "./lua/reshard-ack-3.lua" with { type: "text" };
import celeryHandoff from "./lua/celery-handoff-5.lua" with { type: "text" };
import celeryPush from "./lua/celery-push-1.lua" with { type: "text" };
import finalsLib from "./lua/lib/finals.lua" with { type: "text" };
import coldLib from "./lua/lib/cold.lua" with { type: "text" };
import packedLib from "./lua/lib/packed.lua" with { type: "text" };
import claimedLib from "./lua/lib/claimed.lua" with { type: "text" };
import orderLib from "./lua/lib/order.lua" with { type: "text" };
import consoleLib from "./lua/lib/console.lua" with { type: "text" };
import scheduleStepsLib from "./lua/lib/schedule-steps.lua" with { type: "text" };
import celeryEnvelopeLib from "./lua/lib/celery-envelope.lua" with { type: "text" };
import scheduleShardLib from "./lua/lib/schedule-shard.lua" with { type: "text" };

/** Scripts that read or write final records, cold tasks or claimed batches, take packed fields or compare members, start with the shared functions (lua/lib/). */
const withFinals = (lua: string): string => `${finalsLib}\n${lua}`;
const withCold = (lua: string): string => `${coldLib}\n${lua}`;
const withPacked = (lua: string): string => `${packedLib}\n${lua}`;
const withClaimed = (lua: string): string => `${claimedLib}\n${lua}`;
const withOrder = (lua: string): string => `${orderLib}\n${lua}`;
/** Celery messages joined from their template (lib/packed.lua must come first). */
const withCeleryEnvelope = (lua: string): string => withPacked(`${celeryEnvelopeLib}\n${lua}`);
/** The console's indexes and attempt history (issue 15). */
const withConsole = (lua: string): string => `${consoleLib}\n${lua}`;
/** Storing new tasks on a shard (lib/schedule-shard.lua: needs lib/packed, cold and finals). */
const withScheduleShard = (lua: string): string => withPacked(withCold(withFinals(`${scheduleShardLib}\n${lua}`)));
/** Withdrawing and planting occurrences (needs withPacked outside it). */
const withScheduleSteps = (lua: string): string => `${scheduleStepsLib}\n${lua}`;

const sources = {
  schedule: { lua: withScheduleShard(schedule), keys: 4 },
  // Several shards of one server per call, four keys each: the key count goes first (keyCountFirst).
  scheduleShards: { lua: withScheduleShard(scheduleShards), keys: -1 },
  claim: { lua: claim, keys: 6 },
  finish: { lua: withConsole(withClaimed(withPacked(withFinals(finish)))), keys: 7 },
  retry: { lua: withConsole(withClaimed(retry)), keys: 5 },
  reap: { lua: withClaimed(reap), keys: 5 },
  extend: { lua: extend, keys: 2 },
  cancel: { lua: withConsole(withCold(withFinals(cancel))), keys: 5 },
  reschedule: { lua: withCold(withFinals(reschedule)), keys: 3 },
  promote: { lua: withCold(promote), keys: 4 },
  window: { lua: window, keys: 1 },
  listCold: { lua: withCold(listCold), keys: 1 },
  inspect: { lua: withCold(withFinals(inspect)), keys: 4 },
  progress: { lua: progress, keys: 3 },
  list: { lua: withOrder(withFinals(list)), keys: 3 },
  listFinished: { lua: withOrder(withFinals(listFinished)), keys: 1 },
  listRunning: { lua: withOrder(withClaimed(listRunning)), keys: 4 },
  retryDead: { lua: withFinals(retryDead), keys: 4 },
  park: { lua: withClaimed(park), keys: 7 },
  pauseShard: { lua: pauseShard, keys: 1 },
  resumeShard: { lua: resumeShard, keys: 4 },
  pausedNames: { lua: pausedNames, keys: 1 },
  leaseAcquire: { lua: leaseAcquire, keys: 2 },
  leaseRenew: { lua: leaseRenew, keys: 1 },
  leaseRelease: { lua: leaseRelease, keys: 1 },
  nodeHeartbeat: { lua: nodeHeartbeat, keys: 2 },
  nodeLeave: { lua: nodeLeave, keys: 2 },
  nodeList: { lua: nodeList, keys: 2 },
  scheduleWrite: { lua: withPacked(withScheduleSteps(withFinals(scheduleWrite))), keys: 5 },
  scheduleDue: { lua: scheduleDue, keys: 5 },
  schedulePlant: { lua: withPacked(withScheduleSteps(schedulePlant)), keys: 5 },
  scheduleWriteMany: { lua: withPacked(withScheduleSteps(withFinals(scheduleWriteMany))), keys: 5 },
  resizeStart: { lua: resizeStart, keys: 1 },
  resizeFinish: { lua: resizeFinish, keys: 1 },
  resizeMove: { lua: resizeMove, keys: 1 },
  reshardState: { lua: reshardState, keys: 3 },
  reshardOut: { lua: withFinals(reshardOut), keys: 7 },
  // A run of cold lists, as many keys as slots: the key count goes first in the call (keyCountFirst).
  reshardOutCold: { lua: reshardOutCold, keys: -1 },
  reshardOutSchedules: { lua: reshardOutSchedules, keys: 4 },
  reshardIn: { lua: withPacked(withCold(withFinals(reshardIn))), keys: 7 },
  reshardAck: { lua: reshardAck, keys: 3 },
  celeryHandoff: { lua: withCeleryEnvelope(withConsole(withClaimed(withFinals(celeryHandoff)))), keys: 5 },
  // Run on the Celery broker's connection (store/celery-broker.ts), not tickwheel's.
  celeryPush: { lua: withCeleryEnvelope(celeryPush), keys: 1 },
} as const;

export type ScriptName = keyof typeof sources;

/** Hex digits of the source's SHA-1 kept in a command name: 48 bits tell versions apart. */
const NAME_HASH_DIGITS = 12;

const sha1 = (lua: string): string => createHash("sha1").update(lua).digest("hex");
const nameOf = (script: string, sha: string): string => `tickwheel_${script}_${sha.slice(0, NAME_HASH_DIGITS)}`;

/** The command name of a script with this source: any change to the source gives another name. */
export function contentName(script: string, lua: string): string {
  return nameOf(script, sha1(lua));
}

/** Each script's SHA-1 as EVALSHA names it, with its source, made once at load (one hash per script). */
const bySha = Object.fromEntries(Object.entries(sources).map(([name, source]) => [name, { sha: sha1(source.lua), lua: source.lua }])) as Record<
  ScriptName,
  { sha: string; lua: string }
>;

/** Computed once at load, from the same hash: the hot path looks a command up by name per call. */
const commandNames = Object.fromEntries(Object.entries(bySha).map(([name, { sha }]) => [name, nameOf(name, sha)])) as Record<ScriptName, string>;

/** The command a script is registered under: its name and a hash of its full source (libraries included). */
export function commandName(script: ScriptName): string {
  return commandNames[script];
}

/** A script's SHA-1 and full source (libraries included), for a client that runs it by EVALSHA (lean-scripts.ts). */
export function scriptBySha(script: ScriptName): { sha: string; lua: string } {
  return bySha[script];
}

/** True for a script that takes a variable number of keys: the caller passes the count first. */
export function keyCountFirst(script: ScriptName): boolean {
  return sources[script].keys < 0;
}

interface CommandDefiner {
  defineCommand(name: string, definition: { lua: string; numberOfKeys?: number }): void;
}

export function defineScripts(connection: CommandDefiner): void {
  for (const [name, source] of Object.entries(sources) as [ScriptName, (typeof sources)[ScriptName]][]) {
    connection.defineCommand(commandName(name), source.keys < 0 ? { lua: source.lua } : { lua: source.lua, numberOfKeys: source.keys });
  }
}
