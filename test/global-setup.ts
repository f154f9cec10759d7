/** Starts the test origins (real HTTP servers on loopback) once for the whole run. */
import type { TestProject } from "vitest/node";
import { startOrigin } from "./origin/server.ts";
import { startSloppyOrigin } from "./origin/sloppy.ts";

export default async function setup(project: TestProject) {
  const origin = await startOrigin();
  const wsgi = await startSloppyOrigin("wsgi");
  const lenient = await startSloppyOrigin("lenient");
  project.provide("originUrl", origin.url);
  project.provide("wsgiOriginUrl", wsgi.url);
  project.provide("lenientOriginUrl", lenient.url);
  return async () => {
    await Promise.all([origin.close(), wsgi.close(), lenient.close()]);
  };
}
