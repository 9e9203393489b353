// Bad input to a bench script: one line naming the script, exit 2, and no stack trace (a stack
// trace reads as a bug in the script, not in the command line).

export function usage(script: string, message: string): never {
  process.stderr.write(`${script}: ${message}\n`);
  process.exit(2);
}
