#!/usr/bin/env node
// The berth command: runs the TypeScript sources through tsx, so `npx berth`
// works straight after `npm ci` with no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
await main(process.argv);
