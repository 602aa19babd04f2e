/**
 * Facts about how tickwheel lays its data out in Redis, shared by the parts
 * that read and write it.
 *
 * DATA_FORMAT is the version of that layout (keys, records, indexes). It is
 * stored in the cluster config by the first node or client on a prefix, and
 * a process refuses data whose format it does not know (cluster-config.ts):
 * a change to the layout bumps it (and brings its migration), a change to a
 * script alone does not (script names follow their content, scripts.ts).
 */
export const DATA_FORMAT = 3;
// Claimed batch ids are "<n>@<lease token>" (claim-6.lua) so a reaper knows the claimer; ids of
// earlier builds ("<n>") are read the same way and only name no claimer (they are reaped at their
// deadline). Both are opaque to every other script: the layout, and so the format, is unchanged.

/** Formats this build reads and writes. */
export const KNOWN_DATA_FORMATS: readonly number[] = [DATA_FORMAT];

/**
 * Added to the due score of a parked task (paused name): 2^48 ms is beyond
 * any real due time (year ~10,900), and a due score plus 2^48 stays below
 * 2^49, where a double still holds the 1/16 priority fraction exactly.
 */
export const PARK_OFFSET = 2 ** 48;
