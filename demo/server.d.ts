/** Types for demo/server.js, so the TypeScript tests can start the demo. */
import type { Server } from 'node:http';
import type { Express } from 'express';
import type { SigningKeyInput } from 'chat-identity';

export declare const SCHEMES: readonly string[];
export declare const SAMPLE_USERS: ReadonlyArray<{ id: string; name: string; email: string; plan: string }>;

export interface DemoKeys {
  keys: Array<SigningKeyInput & { id: string; test: boolean }>;
  signingKey: SigningKeyInput & { id: string; test: boolean };
  generated: boolean;
}

export declare function demoKeys(env?: Record<string, string | undefined>): DemoKeys;

export declare function demoSessionKey(env?: Record<string, string | undefined>): string;

export declare function createDemoApp(options?: {
  env?: Record<string, string | undefined>;
  keys?: DemoKeys;
  sessionKey?: string;
  now?: () => number;
}): Express;

export interface RunningDemo {
  url: string;
  port: number;
  keys: DemoKeys;
  server: Server;
  close(): Promise<void>;
}

export declare function startDemo(options?: {
  port?: number;
  host?: string;
  env?: Record<string, string | undefined>;
  now?: () => number;
}): Promise<RunningDemo>;
