/** Starts the test origin (a real HTTP server on loopback) once for the whole run. */
import type { TestProject } from "vitest/node";
import { startOrigin } from "./origin/server.ts";

declare module "vitest" {
  export interface ProvidedContext {
    originUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const origin = await startOrigin();
  project.provide("originUrl", origin.url);
  return () => origin.close();
}
