import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

/**
 * Tests run inside workerd (the Cloudflare vitest plugin), with miniflare's real Cache API and KV.
 * The origin is a real HTTP server on loopback, started by test/global-setup.ts.
 */
export default defineConfig({
  plugins: [
    cloudflareTest(({ inject }) => ({
      main: "./src/index.ts",
      miniflare: {
        compatibilityDate: "2026-10-20",
        kvNamespaces: ["TAGS"],
        durableObjects: {
          PURGES: { className: "PurgeCoordinator", useSQLite: true },
          SHIELD: { className: "OriginShield", useSQLite: true },
        },
        r2Buckets: ["SHIELD_BUCKET"],
        bindings: {
          ORIGIN_URL: inject("originUrl"),
          CACHE_VERSION: "test",
          PURGE_TOKEN: "test-purge-token-0123456789",
          // One JSON line per request is the production default; it would drown the test output.
          LOG_REQUESTS: "false",
        },
      },
    })),
  ],
  test: {
    globalSetup: ["./test/global-setup.ts"],
    include: ["test/**/*.test.ts", "src/**/*.test.ts"],
    testTimeout: 20_000,
    reporters: ["default", "./test/reporter.ts"],
  },
});
