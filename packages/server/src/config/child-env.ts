/** Variables holding Berth's secrets: read once by loadConfig, never handed to a process Berth starts. */
export const SECRET_ENV_VARS = ['BERTH_ADMIN_TOKEN'] as const;

/** The environment for a process Berth starts: Berth's own, without its secrets. */
export function childEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const copy = { ...env };
  for (const name of SECRET_ENV_VARS) delete copy[name];
  return copy;
}

/**
 * Removes the secrets from this process's environment once the config holds them, so that nothing
 * started later inherits them, whoever starts it (Berth's own code passes `childEnv()` as well).
 */
export function forgetSecretEnv(env: NodeJS.ProcessEnv = process.env): void {
  for (const name of SECRET_ENV_VARS) delete env[name];
}
