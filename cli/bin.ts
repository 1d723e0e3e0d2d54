#!/usr/bin/env node
/** The `chat-identity` executable: runs the CLI on this process's arguments and streams. */
import { run } from './main.js';

run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`chat-identity: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 70; // EX_SOFTWARE: not a verdict (0/1) nor a usage error (2)
  },
);
