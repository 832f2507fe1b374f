// The contract every CLI command module implements. The dispatcher (agent/main.ts) parses argv
// with node:util parseArgs against `options`, handles --json and --help, maps thrown
// TollgateErrors to exit codes (ARCHITECTURE.md), and calls run().

export interface OptionSpec {
  type: 'string' | 'boolean';
  multiple?: boolean;
  short?: string;
  /** One line for --help. */
  description: string;
  /** Placeholder shown in --help, e.g. 'HEX'. */
  valueName?: string;
}

export interface CommandContext {
  /** Parsed option values (kebab-case keys as declared). */
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
  /** True when --json was given: write exactly one JSON document to stdout via result(). */
  json: boolean;
  /** Report the command's result: `data` is printed as JSON under --json, `text` otherwise. */
  result(data: unknown, text: string): void;
  /** Progress/info for humans on stderr; silent under --json. */
  info(text: string): void;
  /** True when stderr is a TTY (progress bars only then). */
  tty: boolean;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export interface CommandSpec {
  /** Words after `tollgate`, e.g. ['tpm', 'quote']. */
  path: string[];
  summary: string;
  usage?: string;
  options: Record<string, OptionSpec>;
  /** Allow positionals (names for --help). */
  positionals?: Array<{ name: string; required: boolean; variadic?: boolean }>;
  /** Allow options not declared here to pass through as positionals (e.g. conformance modes). */
  passThrough?: boolean;
  /** Returns the exit code (0 when omitted). Throw a TollgateError for failures. */
  run(ctx: CommandContext): Promise<number | void>;
}
