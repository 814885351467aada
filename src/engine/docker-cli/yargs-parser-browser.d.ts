// yargs-parser's runtime-neutral build (no Node built-ins), which its own typings do not cover.
declare module 'yargs-parser/browser' {
  interface DetailedArguments {
    argv: Record<string, unknown> & { _: Array<string | number>; '--'?: Array<string | number> };
    error: Error | null;
  }
  interface Options {
    boolean?: string[];
    string?: string[];
    array?: Array<string | { key: string; string?: boolean }>;
    alias?: Record<string, string | string[]>;
    configuration?: Record<string, boolean>;
  }
  const parser: {
    (args: string[], opts?: Options): DetailedArguments['argv'];
    detailed(args: string[], opts?: Options): DetailedArguments;
  };
  export default parser;
}
