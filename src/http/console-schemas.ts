/**
 * Schemas of the operator's console routes (issue 15): run now, the attempt
 * history, bulk actions and their progress. Beside schemas.ts rather than in
 * it, so the console's additions stay in files of their own.
 */
import { z } from "@hono/zod-openapi";
import { MAX_NAME_LENGTH } from "../config/defaults.ts";
import { BULK_ACTIONS } from "../console/bulk-jobs.ts";
import { LISTABLE_STATES } from "../client/listing.ts";

export const FailedAttemptsResponse = z
  .object({
    id: z.string(),
    attempts: z
      .array(z.object({ at: z.number(), attempt: z.number(), error: z.string() }))
      .openapi({ description: "the last failed attempts kept (up to 10), oldest first; the final one's error is the task's lastError" }),
  })
  .openapi("FailedAttempts");

export const BulkBody = z
  .strictObject({
    action: z.enum(BULK_ACTIONS).openapi({ description: "cancel and run-now: scheduled or failed tasks; retry: dead tasks; count: only counts" }),
    state: z.enum(LISTABLE_STATES),
    name: z.string().min(1).max(MAX_NAME_LENGTH).optional().openapi({ description: "only tasks of this name" }),
    namePrefix: z.string().min(1).max(MAX_NAME_LENGTH).optional().openapi({ description: "only tasks whose name starts with this" }),
    all: z.boolean().optional().openapi({ description: "true to act on every task of the state (no name filter)" }),
  })
  .openapi("BulkAction");

export const BulkJobView = z
  .object({
    jobId: z.string(),
    action: z.enum(BULK_ACTIONS),
    state: z.enum(LISTABLE_STATES),
    name: z.string().nullable(),
    namePrefix: z.string().nullable(),
    status: z.enum(["running", "done", "failed"]),
    matched: z.number().openapi({ description: "tasks the filter listed so far" }),
    done: z.number().openapi({ description: "of those, how many the action changed" }),
    skipped: z.number().openapi({ description: "of those, how many had started or finished before the action reached them" }),
    startedAt: z.number(),
    updatedAt: z.number(),
    finishedAt: z.number().nullable(),
    error: z.string().nullable(),
  })
  .openapi("BulkJob");

export const BulkJobParam = z.object({
  jobId: z.string().min(1).max(200).openapi({ param: { name: "jobId", in: "path" } }),
});
