export * from "./client.js";
export * from "./errors.js";
export * from "./events.js";
export type { components, paths } from "./schema.js";
