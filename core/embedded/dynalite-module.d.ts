/** Types for dynalite 4 (ships none): the embedded DynamoDB-compatible server. */
declare module 'dynalite' {
  import type { Server } from 'node:http';
  interface DynaliteOptions {
    path?: string;
    createTableMs?: number;
    deleteTableMs?: number;
    updateTableMs?: number;
    maxItemSizeKb?: number;
  }
  function dynalite(opts?: DynaliteOptions): Server;
  export default dynalite;
}
