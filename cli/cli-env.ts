/**
 * The only place the command line reads its environment (the gateway's is src/config.ts; the CLI
 * is a program of its own). Flags win over the environment.
 *
 * | variable        | default                  | what |
 * | --------------- | ------------------------ | ---- |
 * | `JOBWIRE_URL`   | `http://127.0.0.1:4000`  | the gateway (`/graphql` is added to a bare origin); `--url` |
 * | `JOBWIRE_TOKEN` | none                     | a JWT or API token, sent as `Authorization: Bearer`; `--token` |
 * | `NO_COLOR`      | unset                    | any value turns colours off (https://no-color.org) |
 */

/** Where the gateway listens when neither `--url` nor `JOBWIRE_URL` says. */
export const DEFAULT_URL = 'http://127.0.0.1:4000';

export interface CliSettings {
  /** The gateway's URL. */
  url: string;
  /** The credential, or undefined (the embedded default needs none). */
  token: string | undefined;
  /** Whether colours may be used (they are only when stdout is also a terminal). */
  color: boolean;
}

/** The settings from flags (`--url`, `--token`) over `env`; an empty value counts as unset. */
export function cliSettings(flags: { url?: string; token?: string }, env: NodeJS.ProcessEnv = process.env): CliSettings {
  const pick = (...values: (string | undefined)[]) => values.find((v) => v !== undefined && v !== '');
  return {
    url: pick(flags.url, env.JOBWIRE_URL) ?? DEFAULT_URL,
    token: pick(flags.token, env.JOBWIRE_TOKEN),
    color: env.NO_COLOR === undefined || env.NO_COLOR === '',
  };
}
