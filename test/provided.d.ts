/** What test/global-setup.ts provides to tests (vitest's provide / inject). */
declare module "vitest" {
  export interface ProvidedContext {
    originUrl: string;
    /** A sloppy origin that routes like a WSGI server (test/origin/sloppy.ts). */
    wsgiOriginUrl: string;
    /** The same, routing like a lenient router (case-insensitive, ;params stripped). */
    lenientOriginUrl: string;
  }
}
export {};
