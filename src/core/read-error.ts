// Why a file could not be read, in words: a bare code (ENOENT) tells a new user little. The code
// stays in parentheses for searching.

const WORDS: Record<string, string> = {
  ENOENT: "no such file",
  EISDIR: "a folder, not a file",
  EACCES: "permission denied",
};

export function readErrorText(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === undefined) return err instanceof Error ? err.message : String(err);
  const words = WORDS[code];
  return words ? `${words} (${code})` : code;
}
