import crypto from 'node:crypto';
import { parseRole, type Principal, type Role } from './roles';

/**
 * Static API tokens for machines (`API_TOKENS_FILE`). The file holds only hashes, one token a line:
 *
 * ```
 * # role:sha256-hex-of-the-token[:name]
 * operator:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08:ci-deployer
 * viewer:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae
 * ```
 *
 * `role` is viewer, operator or admin (any case); the hash is the SHA-256 of the token as the client
 * sends it, in hex (`printf %s "$TOKEN" | sha256sum`); `name` (letters, digits, `.`, `_`, `@`, `-`,
 * at most 64) names the token in audit fields and logs: its subject is `token:<name>`, or
 * `token:<first 8 hex digits of the hash>` without one. Blank lines and lines starting with `#`
 * are skipped. A token given twice, or two tokens with one name, is a mistake and refused.
 */
export interface ApiToken {
  role: Role;
  /** SHA-256 of the token (32 bytes). */
  hash: Buffer;
  /** `token:<name>` or `token:<hash prefix>`. */
  subject: string;
}

const LINE = /^([A-Za-z]+):([0-9A-Fa-f]{64})(?::([\w.@-]{1,64}))?$/;

/** Parses the text of a tokens file; throws an Error naming the line (1-based) and what is wrong with it. */
export function parseApiTokens(text: string): ApiToken[] {
  const tokens: ApiToken[] = [];
  const seen = new Set<string>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const where = `line ${i + 1}`;
    const m = LINE.exec(line);
    if (!m) throw new Error(`${where} is not role:sha256-hex[:name] (64 hex digits; a name of letters, digits, . _ @ -)`);
    const role = parseRole(m[1]);
    if (!role) throw new Error(`${where}: role ${JSON.stringify(m[1])} is not viewer, operator or admin`);
    const hex = m[2].toLowerCase();
    const subject = `token:${m[3] ?? hex.slice(0, 8)}`;
    if (seen.has(hex)) throw new Error(`${where}: this token hash is listed twice`);
    if (seen.has(subject)) throw new Error(`${where}: ${subject} is listed twice`);
    seen.add(hex).add(subject);
    tokens.push({ role, hash: Buffer.from(hex, 'hex'), subject });
  });
  return tokens;
}

/** The SHA-256 of a token, as the file lists it. */
export function hashToken(token: string): Buffer {
  return crypto.createHash('sha256').update(token, 'utf8').digest();
}

/**
 * The principal of the token whose hash matches `token`'s, or null. Every entry is compared, each
 * in constant time, so how long it takes tells nothing about which hash came close.
 */
export function matchApiToken(tokens: readonly ApiToken[], token: string): Principal | null {
  const hash = hashToken(token);
  let found: ApiToken | null = null;
  for (const t of tokens) if (crypto.timingSafeEqual(t.hash, hash)) found = t;
  return found && { subject: found.subject, role: found.role };
}
