import type { Engine } from '../engine.js';
import type { CommandIO } from './io.js';
import type { Parsed } from './parse.js';

/** What a docker command runs with: the engine, the client's streams and its parsed command line. */
export interface Ctx {
  engine: Engine;
  io: CommandIO;
  parsed: Parsed;
}
