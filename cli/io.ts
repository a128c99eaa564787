/**
 * The CLI's terminal: output sinks and stdin, injectable so tests run without a real terminal.
 * @module
 */
import { CliError } from "./errors.ts";

export interface CliStdin {
  isTerminal(): boolean;
  readAll(): Promise<string>;
  /** Reads one line without echo; only called when isTerminal() is true. */
  readSecret?(prompt: string): Promise<string>;
}

export interface IoOptions {
  /** Prints one line (the newline is the sink's to add). */
  stdout?: (text: string) => void;
  stderr?: (text: string) => void;
  /** Writes text exactly as given; defaults to `stdout` when that is given, else fd 1. */
  stdoutRaw?: (text: string) => void;
  /** Defaults to false when `stdout` is given, else whether fd 1 is a terminal. */
  stdoutIsTerminal?: () => boolean;
  /** A string stands for piped (non-terminal) input with that content. */
  stdin?: CliStdin | string;
}

export interface Io {
  out(text: string): void;
  /** Text without an added newline, so a redirected value is byte for byte what was stored. */
  outRaw(text: string): void;
  stdoutIsTerminal(): boolean;
  err(text: string): void;
  stdinIsTerminal(): boolean;
  /** The whole of stdin; read once and remembered, as several arguments may refer to it. */
  readStdin(): Promise<string>;
  promptSecret(prompt: string): Promise<string>;
}

export function createIo(opts: IoOptions): Io {
  const stdin = typeof opts.stdin === "string"
    ? stringStdin(opts.stdin)
    : opts.stdin ?? denoStdin();
  const out = opts.stdout ?? ((t: string) => console.log(t));
  const err = opts.stderr ?? ((t: string) => console.error(t));
  const outRaw = opts.stdoutRaw ?? opts.stdout ?? writeStdout;
  const stdoutIsTerminal = opts.stdoutIsTerminal ??
    (opts.stdout ? () => false : () => Deno.stdout.isTerminal());
  let cached: Promise<string> | undefined;
  return {
    out,
    outRaw,
    stdoutIsTerminal,
    err,
    stdinIsTerminal: () => stdin.isTerminal(),
    readStdin: () => (cached ??= stdin.readAll()),
    promptSecret(prompt) {
      if (!stdin.readSecret) throw new CliError("Cannot prompt for input: no terminal available");
      return stdin.readSecret(prompt);
    },
  };
}

/** Synchronous, as console.log is, so raw and line output keep their order. */
function writeStdout(text: string): void {
  const bytes = new TextEncoder().encode(text);
  for (let off = 0; off < bytes.length;) off += Deno.stdout.writeSync(bytes.subarray(off));
}

function stringStdin(text: string): CliStdin {
  return { isTerminal: () => false, readAll: () => Promise.resolve(text) };
}

function denoStdin(): CliStdin {
  return {
    isTerminal: () => Deno.stdin.isTerminal(),
    readAll: () => new Response(Deno.stdin.readable).text(),
    readSecret: readHiddenLine,
  };
}

/** Raw mode keeps keys and tokens off the screen and out of terminal scrollback. */
async function readHiddenLine(prompt: string): Promise<string> {
  const enc = new TextEncoder();
  await Deno.stderr.write(enc.encode(prompt));
  const bytes: number[] = [];
  const buf = new Uint8Array(1);
  Deno.stdin.setRaw(true);
  try {
    while (true) {
      const n = await Deno.stdin.read(buf);
      if (n === null) break;
      const b = buf[0]!;
      if (b === 0x0d || b === 0x0a) break;
      if (b === 0x03 || b === 0x04) throw new CliError("Interrupted");
      if (b === 0x7f || b === 0x08) bytes.pop();
      else bytes.push(b);
    }
  } finally {
    Deno.stdin.setRaw(false);
    await Deno.stderr.write(enc.encode("\n"));
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}
