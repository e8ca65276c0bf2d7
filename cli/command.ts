/**
 * The one argument parser and exit-code convention of every `npm run`
 * command. Built on Node's `node:util` parseArgs (strict), so it adds no
 * dependency; what it adds is the part parseArgs leaves to callers: one-line
 * errors that say how to fix the command, `--help`, positional arity, and the
 * same exit code for the same kind of failure everywhere.
 *
 * This module and ./stacks.ts import nothing heavy: a script parses and
 * checks its arguments with them, then `import()`s the program (Pulumi, the
 * AWS SDK types, the dashboards) only once the command line is known good, so
 * a usage error costs the time to start Node, not to load the program.
 */
import { parseArgs } from "node:util";

/**
 * Exit codes, the same for every command (README "Commands"):
 * 0 ok; 1 the command ran and found a problem (a failed check, leftovers, a
 * policy violation) or its work failed; 2 the command line or the stack's
 * configuration is wrong (nothing was done); 3 a prerequisite is missing or an
 * outside tool could not answer (`npm run doctor` says how to get it).
 */
export const exitCodes = { ok: 0, failed: 1, usage: 2, prerequisite: 3 } as const;
export type ExitCode = (typeof exitCodes)[keyof typeof exitCodes];

/** A mistake in the command line; the message is one line ending in the fix. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** A tool, credential or service the command needs is not there; the message says how to get it. */
export class PrerequisiteError extends Error {
  override readonly name = "PrerequisiteError";
}

type OptionSpec = { type: "string" | "boolean"; multiple?: boolean; short?: string; default?: string | boolean | string[] | boolean[] };
export type OptionSpecs = Record<string, OptionSpec>;

/** A positional argument: `name` as usage shows it; `optional`; `rest` takes all that follow; `hint` adds the choices to a "missing" error. */
export interface PositionalSpec {
  name: string;
  optional?: boolean;
  rest?: boolean;
  hint?: () => string;
}

export interface CommandSpec<O extends OptionSpecs = OptionSpecs> {
  /** The npm script (`npm run <name>`), or the full invocation for a non-npm entry point. */
  name: string;
  /** How the command is invoked, e.g. `npm run synth --`; defaults to `npm run <name> --`. */
  invocation?: string;
  /** What follows the invocation, e.g. `<stack> [--out <dir>]`. */
  synopsis: string;
  /** What the command does, printed by --help. */
  summary: string;
  /** One line per option for --help, e.g. `--out <dir>  write to <dir> instead of out/<stack>`. */
  details?: readonly string[];
  options: O;
  positionals: readonly PositionalSpec[];
}

type ValueOf<S extends OptionSpec> = S["type"] extends "boolean" ? (S["multiple"] extends true ? boolean[] : boolean) : S["multiple"] extends true ? string[] : string;
export type OptionValues<O extends OptionSpecs> = { [K in keyof O]?: ValueOf<O[K]> };

export interface ParsedCommand<O extends OptionSpecs> {
  values: OptionValues<O>;
  positionals: string[];
  help: boolean;
}

export function usageLine(spec: Pick<CommandSpec, "name" | "invocation" | "synopsis">): string {
  return `usage: ${spec.invocation ?? `npm run ${spec.name} --`} ${spec.synopsis}`;
}

export function helpText(spec: CommandSpec): string {
  return [usageLine(spec), "", spec.summary, ...(spec.details && spec.details.length > 0 ? ["", ...spec.details.map((d) => `  ${d}`)] : []), "", exitCodeHelp].join("\n");
}

export const exitCodeHelp = "exit codes: 0 ok, 1 check failed or work failed, 2 usage or configuration error, 3 missing prerequisite (see npm run doctor)";

/** The option a parseArgs error is about, from its message (`Unknown option '--x'`, `Option '--out <value>' argument missing`). */
function optionIn(message: string): string {
  return /'(-{1,2}[^'\s]+)/.exec(message)?.[1] ?? "an option";
}

/**
 * Parses `argv` against `spec`. Throws a {@link UsageError} whose message is
 * the problem only (the runner adds the usage line): unknown options, a
 * missing value, a value given to a flag, missing or extra positionals.
 */
export function parseCommand<O extends OptionSpecs>(spec: CommandSpec<O>, argv: readonly string[]): ParsedCommand<O> {
  const options = { ...spec.options, help: { type: "boolean", short: "h" } } as OptionSpecs;
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true }) as typeof parsed;
  } catch (err) {
    const code = (err as { code?: string }).code;
    const message = err instanceof Error ? err.message : String(err);
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") throw new UsageError(`unknown option ${optionIn(message)}`);
    if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
      const option = optionIn(message);
      throw new UsageError(/does not take an argument/.test(message) ? `${option} takes no value` : `${option} needs a value`);
    }
    throw new UsageError(message.split("\n")[0] ?? message);
  }
  const help = parsed.values.help === true;
  const { help: _help, ...values } = parsed.values;
  if (!help) {
    const required = spec.positionals.filter((p) => !p.optional && !p.rest);
    const missing = required[parsed.positionals.length];
    if (missing) throw new UsageError(`missing <${missing.name}>${missing.hint ? ` (${missing.hint()})` : ""}`);
    const rest = spec.positionals.some((p) => p.rest);
    const extra = parsed.positionals[spec.positionals.length];
    if (!rest && extra !== undefined) throw new UsageError(`unexpected argument ${JSON.stringify(extra)}`);
  }
  return { values: values as OptionValues<O>, positionals: parsed.positionals, help };
}

/** A positive integer option, or undefined when absent. */
export function positiveInteger(option: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) throw new UsageError(`--${option} takes a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

/** One of `allowed`, or a usage error listing them. */
export function oneOf<T extends string>(what: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`${what} ${JSON.stringify(value)} is not one of ${allowed.join(", ")}`);
  return value as T;
}

export interface Failure {
  code: ExitCode;
  /** What to print on stderr: one line for usage and prerequisite errors. */
  message: string;
}

/**
 * Maps what a command threw to its exit code and message. Configuration
 * errors (config ConfigError, recognised by name so this module
 * stays free of the Pulumi SDK) list every problem and exit 2 like a usage
 * error: nothing was done and the fix is in the user's hands.
 */
export function describeFailure(spec: Pick<CommandSpec, "name" | "invocation" | "synopsis">, err: unknown, debug = false): Failure {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof UsageError) return { code: exitCodes.usage, message: `${spec.name}: ${message}; ${usageLine(spec)}` };
  if (err instanceof PrerequisiteError) return { code: exitCodes.prerequisite, message: `${spec.name}: ${message}` };
  if (err instanceof Error && err.name === "ConfigError") return { code: exitCodes.usage, message: `${spec.name}: ${message}` };
  const stack = debug && err instanceof Error && err.stack ? `\n${err.stack}` : "";
  return { code: exitCodes.failed, message: `${spec.name}: ${message}${stack}` };
}

export interface RunIo {
  argv: readonly string[];
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  exit: (code: number) => void;
  /** Print stack traces of unexpected errors (INFERMESH_DEBUG=1). */
  debug: boolean;
}

const processIo = (): RunIo => ({
  argv: process.argv.slice(2),
  stdout: (text) => process.stdout.write(`${text}\n`),
  stderr: (text) => process.stderr.write(`${text}\n`),
  exit: (code) => process.exit(code),
  debug: process.env.INFERMESH_DEBUG === "1",
});

/**
 * Runs a command: parses its arguments, prints --help, calls `main` with the
 * parsed arguments and exits with what it returns, or maps what it throws
 * through {@link describeFailure}.
 */
export async function runCommand<O extends OptionSpecs>(spec: CommandSpec<O>, main: (args: ParsedCommand<O>) => Promise<number> | number, io: RunIo = processIo()): Promise<void> {
  let code: number;
  try {
    const args = parseCommand(spec, io.argv);
    if (args.help) {
      io.stdout(helpText(spec as unknown as CommandSpec));
      code = exitCodes.ok;
    } else {
      code = await main(args);
    }
  } catch (err) {
    const failure = describeFailure(spec, err, io.debug);
    io.stderr(failure.message);
    code = failure.code;
  }
  io.exit(code);
}
