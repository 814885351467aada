import yargsParser from 'yargs-parser/browser';

/** A flag of a docker command, as `docker CMD --help` lists it. */
export interface FlagSpec {
  long: string;
  short?: string;
  type: 'bool' | 'string' | 'list';
  value?: string; // placeholder in help: `string`, `list`, `int`, `bytes`
  description: string;
  default?: string | boolean;
}

export interface CommandSpec {
  name: string;
  usage: string;
  description: string;
  flags: FlagSpec[];
  /** Flags end at the first argument (`run IMAGE CMD --flags-of-cmd`). */
  haltAtFirstArg?: boolean;
  minArgs?: number;
  maxArgs?: number;
}

/** Bad usage: Docker prints the message, `See 'docker CMD --help'.` and exits 125. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  constructor(
    message: string,
    readonly command: string,
  ) {
    super(message);
  }
}

export interface Parsed {
  flags: Record<string, string | boolean | string[] | undefined>;
  args: string[];
  help: boolean;
}

/** Parses with Docker's (pflag) conventions: `-it`, `--flag=value`, `--`, repeatable lists. */
export function parseCommand(spec: CommandSpec, argv: string[]): Parsed {
  const bools = spec.flags.filter((f) => f.type === 'bool').map((f) => f.long);
  const strings = spec.flags.filter((f) => f.type === 'string').map((f) => f.long);
  const lists = spec.flags.filter((f) => f.type === 'list').map((f) => f.long);
  const alias: Record<string, string> = {};
  for (const f of spec.flags) if (f.short) alias[f.long] = f.short;
  const out = yargsParser.detailed(argv, {
    boolean: [...bools, 'help'],
    string: [...strings, ...lists],
    array: lists.map((key) => ({ key, string: true })),
    alias,
    configuration: {
      'camel-case-expansion': false,
      'dot-notation': false,
      'parse-numbers': false,
      'parse-positional-numbers': false,
      'boolean-negation': false,
      'duplicate-arguments-array': true,
      'flatten-duplicate-arrays': true,
      'greedy-arrays': false,
      'halt-at-non-option': !!spec.haltAtFirstArg,
      'strip-aliased': true,
      'short-option-groups': true,
      'unknown-options-as-args': false,
      'populate--': true,
    },
  });
  if (out.error) throw new UsageError(out.error.message, spec.name);
  const known = new Set([...spec.flags.map((f) => f.long), 'help', '_', '--']);
  for (const key of Object.keys(out.argv)) {
    if (!known.has(key)) throw new UsageError(`unknown ${key.length === 1 ? 'shorthand flag' : 'flag'}: '${key.length === 1 ? key : `--${key}`}'`, spec.name);
  }
  const flags: Parsed['flags'] = {};
  for (const f of spec.flags) {
    const v = out.argv[f.long] as string | boolean | string[] | undefined;
    if (f.type === 'string' && Array.isArray(v)) flags[f.long] = v.at(-1);
    else if (f.type === 'string' && v === '' && argvHasBareFlag(argv, f)) throw new UsageError(`flag needs an argument: --${f.long}`, spec.name);
    else flags[f.long] = v ?? f.default;
  }
  const args = [...(out.argv._ as string[]).map(String), ...((out.argv['--'] as string[] | undefined) ?? []).map(String)];
  const help = !!out.argv['help'];
  if (!help) {
    if (spec.minArgs !== undefined && args.length < spec.minArgs) {
      throw new UsageError(`"docker ${spec.name}" requires ${spec.minArgs === 1 ? 'at least 1 argument' : `at least ${spec.minArgs} arguments`}.\nUsage:  docker ${spec.name} ${spec.usage}\n\n${spec.description}`, spec.name);
    }
    if (spec.maxArgs !== undefined && args.length > spec.maxArgs) {
      throw new UsageError(`"docker ${spec.name}" accepts at most ${spec.maxArgs} argument${spec.maxArgs === 1 ? '' : 's'}.\nUsage:  docker ${spec.name} ${spec.usage}`, spec.name);
    }
  }
  return { flags, args, help };
}

function argvHasBareFlag(argv: string[], f: FlagSpec): boolean {
  const i = argv.findIndex((a) => a === `--${f.long}` || (f.short && a === `-${f.short}`));
  return i !== -1 && i === argv.length - 1;
}

export function helpText(spec: CommandSpec): string {
  const rows = spec.flags.map((f) => {
    const name = `${f.short ? `-${f.short}, ` : '    '}--${f.long}${f.type === 'bool' ? '' : ` ${f.value ?? (f.type === 'list' ? 'list' : 'string')}`}`;
    return [name, f.description + (f.default !== undefined && f.type !== 'bool' ? ` (default ${JSON.stringify(f.default)})` : '')];
  });
  const width = Math.max(0, ...rows.map((r) => r[0]!.length));
  return (
    `\nUsage:  docker ${spec.name} ${spec.usage}\n\n${spec.description}\n` +
    (rows.length ? `\nOptions:\n${rows.map(([a, b]) => `  ${a!.padEnd(width)}   ${b}`).join('\n')}\n` : '')
  );
}
