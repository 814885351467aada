import { BerthError } from '../errors.js';

/** A failed build: Docker's `failed to solve: …`, with where in the Dockerfile when a step failed. */
export class BuildError extends BerthError {
  constructor(
    message: string,
    readonly step?: { name: string; line: number; lines: number },
  ) {
    super('invalid-argument', message);
  }
}
