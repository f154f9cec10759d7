/** The demo origin as a Worker, started beside edge-cache by `npm start` (see demo/wrangler.toml). */
import { demoSite } from "./site.ts";

export default {
  fetch: (request: Request) => demoSite(request),
} satisfies ExportedHandler;
