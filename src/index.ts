/**
 * The package entry: `import { defineTask, Client } from "tickwheel"`, for
 * tasks modules and producers alike.
 */
export { defineTask } from "./task/define-task.ts";
export type { TaskContext, TaskHandle, TaskHandler, TaskOptions, TaskLogger } from "./task/define-task.ts";
export { Client } from "./client/client.ts";
export type { ClientOptions, ScheduleResult, CancelResult, RescheduleResult, ScheduleRequest, ListOptions, RetryDeadResult } from "./client/client.ts";
export type { ScheduleOptions } from "./task/schedule-input.ts";
export type { TaskView, TaskState, BackoffOptions, Target, WebhookTarget } from "./task/model.ts";
export { TickwheelError } from "./task/errors.ts";
