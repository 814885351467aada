/**
 * A Dockerfile as the builder reads it: parsed instructions whose words are
 * still as written (quotes and `$VAR`s intact). The builder expands each
 * instruction with `expandInstruction` just before it runs it, with the
 * variables (ENV and ARG) in force at that step, as Docker does.
 */

/** RUN, CMD, ENTRYPOINT and HEALTHCHECK take a shell form (through SHELL) or an exec form (a JSON array). */
export type CommandForm = { shell: string } | { exec: string[] };

/** A heredoc (`RUN <<EOF`, `COPY <<EOF /dest`): its body, and how Docker treats it. */
export interface Heredoc {
  /** The delimiter as written, without quotes or `-`: `EOF`. */
  name: string;
  /** The body, lines joined with \n, ending with \n (tabs stripped with `<<-`). */
  content: string;
  /** False when the delimiter was quoted (`<<"EOF"`): no variable expansion in the body. */
  expand: boolean;
}

/** `--name=value` flags before an instruction's arguments; a flag given with no `=value` has value undefined. */
export interface InstructionFlag {
  name: string;
  value: string | undefined;
}

interface Located {
  /** 1-based line where the instruction starts. */
  line: number;
  /** The instruction as Docker prints it in progress and errors: keyword upper-case, continuations joined (`RUN echo hi`). */
  original: string;
  /** The flags as written (checked by the parser against what the instruction accepts). */
  flags: InstructionFlag[];
}

/** HEALTHCHECK's flags as written (Go durations such as `30s`, checked by the parser); an empty value is left out (Docker's default). */
export interface HealthcheckOptions {
  interval?: string;
  timeout?: string;
  startPeriod?: string;
  startInterval?: string;
  retries?: string;
}

export type Instruction = Located &
  (
    | { kind: 'FROM'; image: string; stageName?: string; platform?: string }
    | { kind: 'RUN'; command: CommandForm; heredocs: Heredoc[]; mounts: string[]; network?: string; security?: string }
    | {
        kind: 'COPY' | 'ADD';
        /**
         * Sources as written (globs, URLs for ADD), except a heredoc source, which
         * is `<<` and its name however it was written (`<<-"EOF"` → `<<EOF`): the
         * source `<<NAME` is the heredoc named NAME in `heredocs`.
         */
        sources: string[];
        dest: string;
        /** The heredoc sources, in their order among the sources (tabs stripped by a `<<-` on the source). */
        heredocs: Heredoc[];
        from?: string;
        chown?: string;
        chmod?: string;
        link: boolean;
        parents: boolean;
        exclude: string[];
        /** ADD --checksum=sha256:… */
        checksum?: string;
        keepGitDir: boolean;
      }
    | { kind: 'ENV'; pairs: Array<[string, string]> }
    | { kind: 'ARG'; args: Array<{ name: string; default?: string }> }
    | { kind: 'WORKDIR'; path: string }
    | { kind: 'USER'; user: string }
    | { kind: 'EXPOSE'; ports: string[] }
    | { kind: 'CMD' | 'ENTRYPOINT'; command: CommandForm }
    | { kind: 'LABEL'; pairs: Array<[string, string]> }
    | { kind: 'VOLUME'; paths: string[] }
    | { kind: 'STOPSIGNAL'; signal: string }
    | { kind: 'HEALTHCHECK'; test: 'NONE' | CommandForm; options: HealthcheckOptions }
    | { kind: 'SHELL'; shell: string[] }
    | { kind: 'ONBUILD'; trigger: Instruction }
    | { kind: 'MAINTAINER'; name: string }
  );

export type InstructionKind = Instruction['kind'];

export interface Dockerfile {
  /** The escape character from the `# escape=` directive (default backslash). */
  escape: '\\' | '`';
  instructions: Instruction[];
  /**
   * Warnings to print before the build, as BuildKit does (`# syntax=` ignored, MAINTAINER deprecated, empty continuation lines, ...),
   * in line order; BuildKit's lint rules as `Rule: text` (`MaintainerDeprecated: Maintainer instruction is deprecated in favor of
   * using label`), which Docker prints with ` (line N)` after it.
   */
  warnings: Array<{ line: number; message: string }>;
}
