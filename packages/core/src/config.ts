/** What `readEnvConfig` needs of a schema: zod's `safeParse`, without depending on zod here. */
export interface EnvSchema<T> {
  safeParse(
    input: unknown,
  ):
    | { success: true; data: T }
    | { success: false; error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] } };
}

/**
 * Parses an entry point's environment. On a mistake it prints every wrong variable on its own
 * line (a missing one says "missing") and where they are documented, then exits with status 2:
 * a misconfigured process should stop at once and say why, not with a stack trace.
 */
export function readEnvConfig<T>(
  schema: EnvSchema<T>,
  options: { app: string; env?: NodeJS.ProcessEnv; exit?: (code: number) => never } = { app: 'this app' },
): T {
  const env = options.env ?? process.env;
  const parsed = schema.safeParse(env);
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map((issue) => {
    const name = issue.path.map(String).join('.') || '(environment)';
    const missing = env[name] === undefined && /received undefined/.test(issue.message);
    return `  ${name}: ${missing ? 'missing' : issue.message}`;
  });
  process.stderr.write(
    `${options.app}: invalid configuration\n${lines.join('\n')}\n  -> the variables are listed at the top of apps/${options.app}/src/main.ts\n`,
  );
  return (options.exit ?? process.exit)(2);
}
