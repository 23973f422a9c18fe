import 'reflect-metadata';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse, type GraphQLSchema } from 'graphql';
import { SignJWT } from 'jose';
import { buildSchema, Mutation, Query, Resolver } from 'type-graphql';
import { hashToken, matchApiToken, parseApiTokens } from '../../src/auth/api-tokens';
import { makeAuthenticator } from '../../src/auth/authenticator';
import { parseRole, Role, roleAtLeast } from '../../src/auth/roles';
import { ConfigError, isLoopbackHost, loadConfig } from '../../src/config';
import { authorizeOperation, operationNeeds, ROLE_EXTENSION } from '../../src/graphql/authorization';
import { buildJobwireSchema } from '../../src/graphql/schema';
import { schemaParts } from '../../resolvers';
import { RequiresRole } from '../../resolvers/common/requires-role';

const SECRET = 'a-test-secret-that-is-long-enough-for-hs256';
const sha = (token: string) => hashToken(token).toString('hex');

function tokensFile(text: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobwire-tokens-'));
  const file = path.join(dir, 'tokens');
  fs.writeFileSync(file, text);
  return file;
}

function jwt(claims: Record<string, unknown>, opts: { secret?: string; expiresIn?: string | number; audience?: string } = {}) {
  const t = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt();
  if (opts.expiresIn !== undefined) t.setExpirationTime(opts.expiresIn);
  if (opts.audience) t.setAudience(opts.audience);
  return t.sign(new TextEncoder().encode(opts.secret ?? SECRET));
}

describe('roles', () => {
  it('orders viewer < operator < admin, and reads them in any case', () => {
    expect(roleAtLeast(Role.ADMIN, Role.OPERATOR)).toBe(true);
    expect(roleAtLeast(Role.OPERATOR, Role.OPERATOR)).toBe(true);
    expect(roleAtLeast(Role.OPERATOR, Role.ADMIN)).toBe(false);
    expect(roleAtLeast(Role.VIEWER, Role.OPERATOR)).toBe(false);
    expect([parseRole('viewer'), parseRole(' Operator '), parseRole('ADMIN')]).toEqual([Role.VIEWER, Role.OPERATOR, Role.ADMIN]);
    expect([parseRole('root'), parseRole(''), parseRole(3), parseRole(undefined)]).toEqual([null, null, null, null]);
  });
});

describe('API tokens file', () => {
  it('reads role:sha256[:name] lines, skipping comments and blank lines', () => {
    const tokens = parseApiTokens(
      [
        '# machines',
        '',
        `Operator:${sha('ci-token').toUpperCase()}:ci-deployer`,
        `  viewer:${sha('grafana')}  `,
        '   # indented comment',
      ].join('\n'),
    );
    expect(tokens.map((t) => [t.role, t.subject])).toEqual([
      [Role.OPERATOR, 'token:ci-deployer'],
      [Role.VIEWER, `token:${sha('grafana').slice(0, 8)}`],
    ]);
    expect(matchApiToken(tokens, 'ci-token')).toEqual({ subject: 'token:ci-deployer', role: Role.OPERATOR });
    expect(matchApiToken(tokens, 'grafana')).toEqual({ subject: `token:${sha('grafana').slice(0, 8)}`, role: Role.VIEWER });
    expect(matchApiToken(tokens, 'ci-token ')).toBeNull();
    expect(matchApiToken(tokens, '')).toBeNull();
  });

  it.each([
    [`root:${sha('x')}`, /line 1: role "root" is not viewer, operator or admin/],
    ['viewer:abc123', /line 1 is not role:sha256-hex/],
    [`viewer ${sha('x')}`, /line 1 is not role:sha256-hex/],
    [`viewer:${sha('x')}:a name with spaces`, /line 1 is not/],
    [`# ok\nviewer:${sha('x')}\nadmin:${sha('x')}`, /line 3: this token hash is listed twice/],
    [`viewer:${sha('x')}:bot\nadmin:${sha('y')}:bot`, /line 2: token:bot is listed twice/],
  ])('refuses %j, naming the line', (text, message) => {
    expect(() => parseApiTokens(text)).toThrow(message);
  });
});

describe('auth configuration', () => {
  it('without credentials binds 127.0.0.1 and lets local callers in as admin', () => {
    const c = loadConfig({});
    expect(c.auth.mode).toBe('local');
    expect(c.host).toBe('127.0.0.1');
    expect(loadConfig({ HOST: 'localhost' }).host).toBe('localhost');
    expect(loadConfig({ HOST: '::1' }).auth.mode).toBe('local');
  });

  it('refuses a non-loopback interface without credentials, saying what to set', () => {
    for (const host of ['0.0.0.0', '::', '10.1.2.3', 'jobwire.example.com']) {
      expect(() => loadConfig({ HOST: host })).toThrow(ConfigError);
    }
    expect(() => loadConfig({ HOST: '0.0.0.0' })).toThrow(
      /HOST=0\.0\.0\.0 .*JWT_SECRET, JWT_JWKS_URL .*API_TOKENS_FILE, or JOBWIRE_AUTH=off/,
    );
    // Overrides (tests, embedding) are checked the same way.
    expect(() => loadConfig({}, { host: '0.0.0.0' })).toThrow(/no credentials are configured/);
  });

  it('with JOBWIRE_AUTH=off allows any interface, everybody admin', () => {
    const c = loadConfig({ JOBWIRE_AUTH: 'off', HOST: '0.0.0.0' });
    expect([c.auth.mode, c.host]).toEqual(['off', '0.0.0.0']);
    expect(loadConfig({ JOBWIRE_AUTH: 'off' }).host).toBe('0.0.0.0');
  });

  it('with credentials listens on every interface by default', () => {
    const c = loadConfig({ JWT_SECRET: SECRET });
    expect([c.auth.mode, c.host, c.auth.jwt?.roleClaim]).toEqual(['credentials', '0.0.0.0', 'role']);
    const file = tokensFile(`admin:${sha('t')}\n`);
    const t = loadConfig({ API_TOKENS_FILE: file, JOBWIRE_AUTH: 'on' });
    expect([t.auth.mode, t.auth.apiTokens.length, t.auth.jwt]).toEqual(['credentials', 1, undefined]);
    const j = loadConfig({
      JWT_JWKS_URL: 'https://idp.example.com/jwks',
      JWT_ISSUER: 'https://idp.example.com/',
      JWT_AUDIENCE: 'jobwire, ops',
    });
    expect(j.auth.jwt).toMatchObject({
      jwksUrl: 'https://idp.example.com/jwks',
      issuer: 'https://idp.example.com/',
      audience: ['jobwire', 'ops'],
    });
  });

  it.each([
    [{ JWT_SECRET: 'short' }, /JWT_SECRET is 5 characters long; it needs at least 32/],
    [{ JWT_SECRET: SECRET, JWT_JWKS_URL: 'https://idp/jwks', JWT_ISSUER: 'i', JWT_AUDIENCE: 'a' }, /not both/],
    [{ JWT_JWKS_URL: 'https://idp/jwks', JWT_AUDIENCE: 'a' }, /JWT_JWKS_URL needs JWT_ISSUER and JWT_AUDIENCE/],
    [{ JWT_JWKS_URL: 'ftp://idp/jwks', JWT_ISSUER: 'i', JWT_AUDIENCE: 'a' }, /JWT_JWKS_URL/],
    [{ JWT_ISSUER: 'i' }, /need JWT_SECRET or JWT_JWKS_URL/],
    [{ JOBWIRE_AUTH: 'on' }, /JOBWIRE_AUTH=on needs credentials/],
    [{ JOBWIRE_AUTH: 'maybe' }, /JOBWIRE_AUTH="maybe"; expected on or off/],
    [{ API_TOKENS_FILE: '/nonexistent/jobwire-tokens' }, /API_TOKENS_FILE \/nonexistent\/jobwire-tokens cannot be read \(ENOENT/],
  ])('refuses %j', (env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('refuses a tokens file with a bad line or no token, and never echoes the secret', () => {
    expect(() => loadConfig({ API_TOKENS_FILE: tokensFile(`viewer:${sha('a')}\noperator:nothex\n`) })).toThrow(
      /API_TOKENS_FILE .*tokens: line 2 is not role:sha256-hex/,
    );
    expect(() => loadConfig({ API_TOKENS_FILE: tokensFile('# nothing yet\n\n') })).toThrow(/lists no token/);
    let message = '';
    try {
      loadConfig({ JWT_SECRET: 'hunter2-short' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).not.toMatch(/hunter2/);
  });

  it('knows loopback interfaces', () => {
    expect(['127.0.0.1', '127.3.4.5', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1'].every(isLoopbackHost)).toBe(true);
    expect(['0.0.0.0', '::', '192.168.1.2', '128.0.0.1', 'example.com'].some(isLoopbackHost)).toBe(false);
  });
});

describe('authenticator', () => {
  const file = tokensFile(`operator:${sha('machine-token')}:ci\n`);
  const auth = makeAuthenticator(loadConfig({ JWT_SECRET: SECRET, JWT_AUDIENCE: 'jobwire', API_TOKENS_FILE: file }).auth);
  const bearer = async (token: string) => auth.fromHeader(`Bearer ${token}`);

  it('takes the subject and role of a valid JWT, and an API token by its hash', async () => {
    const token = await jwt({ sub: 'alice', role: 'Operator' }, { expiresIn: '1h', audience: 'jobwire' });
    const result = await bearer(token);
    expect(result).toEqual({ ok: true, principal: { subject: 'alice', role: Role.OPERATOR, expiresAt: expect.any(Number) } });
    expect(await bearer('machine-token')).toEqual({ ok: true, principal: { subject: 'token:ci', role: Role.OPERATOR } });
    expect(await auth.fromConnectionParams({ token: 'machine-token' })).toMatchObject({ ok: true });
    expect(await auth.fromConnectionParams({ authorization: `Bearer ${token}` })).toMatchObject({
      ok: true,
      principal: { subject: 'alice' },
    });
    expect(await auth.fromConnectionParams({ Authorization: 'bearer machine-token' })).toMatchObject({ ok: true });
  });

  it.each([
    ['no header', undefined, 'UNAUTHENTICATED', /Credentials required/],
    ['another scheme', 'Basic YWxpY2U6cHc=', 'UNAUTHENTICATED', /must be "Bearer <token>"/],
    ['an unknown token', 'Bearer not-a-token', 'UNAUTHENTICATED', /not valid/],
  ])('refuses %s', async (_what, header, code, message) => {
    const result = await auth.fromHeader(header);
    expect(result).toEqual({ ok: false, code, message: expect.stringMatching(message) });
  });

  it('refuses expired, forged, wrong-audience and role-less tokens with what is wrong', async () => {
    const cases: [Promise<string>, string, RegExp][] = [
      [
        jwt({ sub: 'a', role: 'admin' }, { expiresIn: Math.floor(Date.now() / 1000) - 3600, audience: 'jobwire' }),
        'UNAUTHENTICATED',
        /expired/,
      ],
      [
        jwt({ sub: 'a', role: 'admin' }, { secret: 'another-secret-that-is-long-enough-too', audience: 'jobwire' }),
        'UNAUTHENTICATED',
        /not valid/,
      ],
      [jwt({ sub: 'a', role: 'admin' }, { audience: 'someone-else' }), 'UNAUTHENTICATED', /"aud" claim is not accepted/],
      [jwt({ role: 'admin' }, { audience: 'jobwire' }), 'UNAUTHENTICATED', /"sub"/],
      [jwt({ sub: 'a', role: 'superuser' }, { audience: 'jobwire' }), 'FORBIDDEN', /"role" claim holds none of viewer, operator, admin/],
    ];
    for (const [token, code, message] of cases) {
      expect(await bearer(await token)).toEqual({ ok: false, code, message: expect.stringMatching(message) });
    }
    expect(await auth.fromConnectionParams({})).toMatchObject({ ok: false, code: 'UNAUTHENTICATED' });
    expect(await auth.fromConnectionParams(null)).toMatchObject({ ok: false, code: 'UNAUTHENTICATED' });
  });

  it('reads the role from a renamed or nested claim, the highest of a list', async () => {
    const nested = makeAuthenticator(loadConfig({ JWT_SECRET: SECRET, JWT_ROLE_CLAIM: 'realm_access.roles' }).auth);
    const token = await jwt({ sub: 'bob', realm_access: { roles: ['offline_access', 'viewer', 'operator'] } });
    expect(await nested.fromHeader(`Bearer ${token}`)).toEqual({ ok: true, principal: { subject: 'bob', role: Role.OPERATOR } });
  });

  it('lets everyone in as admin in the local and off modes, whatever they send', async () => {
    const local = makeAuthenticator(loadConfig({}).auth);
    expect(await local.fromHeader(undefined)).toEqual({ ok: true, principal: { subject: 'local', role: Role.ADMIN } });
    const off = makeAuthenticator(loadConfig({ JOBWIRE_AUTH: 'off' }).auth);
    expect(await off.fromConnectionParams({ token: 'whatever' })).toEqual({
      ok: true,
      principal: { subject: 'anonymous', role: Role.ADMIN },
    });
  });
});

describe('authorization', () => {
  let schema: GraphQLSchema;
  beforeAll(async () => {
    schema = await buildJobwireSchema(schemaParts);
  });
  const viewer = { subject: 'v', role: Role.VIEWER };
  const operator = { subject: 'o', role: Role.OPERATOR };
  const admin = { subject: 'a', role: Role.ADMIN };

  it('every query, mutation and subscription of the schema declares a role', () => {
    const roots = [schema.getQueryType()!, schema.getMutationType()!, schema.getSubscriptionType()!];
    const undeclared = roots.flatMap((t) =>
      Object.values(t.getFields())
        .filter((f) => parseRole(f.extensions[ROLE_EXTENSION]) === null)
        .map((f) => `${t.name}.${f.name}`),
    );
    expect(undeclared).toEqual([]);
    const roleOf = (t: 'getQueryType' | 'getSubscriptionType') =>
      new Set(Object.values(schema[t]()!.getFields()).map((f) => f.extensions[ROLE_EXTENSION]));
    expect(roleOf('getQueryType')).toEqual(new Set([Role.VIEWER]));
    expect(roleOf('getSubscriptionType')).toEqual(new Set([Role.VIEWER]));
    const mutations = Object.fromEntries(
      Object.values(schema.getMutationType()!.getFields()).map((f) => [f.name, f.extensions[ROLE_EXTENSION]]),
    );
    expect(mutations).toEqual({
      createJob: Role.ADMIN,
      updateJob: Role.ADMIN,
      deleteJob: Role.ADMIN,
      startJob: Role.OPERATOR,
      stopRun: Role.OPERATOR,
      retryRun: Role.OPERATOR,
      updateCompute: Role.OPERATOR,
      applyComputePreset: Role.OPERATOR,
      testSourceConnection: Role.OPERATOR,
      replayDeadLetter: Role.OPERATOR,
      discardDeadLetter: Role.OPERATOR,
    });
  });

  it('lets each role do what its own and the lower roles may, and nothing more', () => {
    const check = (principal: typeof viewer, query: string) =>
      authorizeOperation(schema, principal, parse(query), undefined)?.message ?? 'ok';
    const start = 'mutation { startJob(id: "x") { id } }';
    const del = 'mutation { deleteJob(id: "x") }';
    expect(check(viewer, '{ jobs { totalCount } me { role } __typename }')).toBe('ok');
    expect(check(viewer, 'subscription { runUpdated(runId: "x") { id } }')).toBe('ok');
    expect(check(viewer, start)).toBe('Mutation.startJob needs the OPERATOR role; v is VIEWER');
    expect(check(operator, start)).toBe('ok');
    expect(check(operator, del)).toBe('Mutation.deleteJob needs the ADMIN role; o is OPERATOR');
    expect(check(admin, del)).toBe('ok');
    // Several root fields: refused as a whole, naming each field too high.
    expect(check(viewer, 'mutation { startJob(id: "x") { id } deleteJob(id: "y") }')).toBe(
      'Mutation.startJob needs the OPERATOR role, Mutation.deleteJob needs the ADMIN role; v is VIEWER',
    );
  });

  it('follows fragments, aliases and the chosen operation, whatever @skip says', () => {
    const doc = parse(`
      query Read { jobs { totalCount } }
      mutation Write { ...W }
      fragment W on Mutation { gone: deleteJob(id: "x") @skip(if: true) }
    `);
    expect(authorizeOperation(schema, viewer, doc, 'Read')).toBeNull();
    expect(authorizeOperation(schema, operator, doc, 'Write')?.extensions.code).toBe('FORBIDDEN');
    expect([...operationNeeds(schema, doc, 'Write')]).toEqual([['Mutation.deleteJob', Role.ADMIN]]);
    expect(operationNeeds(schema, doc, 'Write')).toBe(operationNeeds(schema, doc, 'Write')); // remembered per document
  });

  it('refuses a root field that declares no role to everybody, admins included', async () => {
    @Resolver()
    class NewResolver {
      @Query(() => Boolean)
      @RequiresRole(Role.VIEWER)
      fine(): boolean {
        return true;
      }

      @Mutation(() => Boolean)
      purgeEverything(): boolean {
        return true;
      }
    }
    const s = await buildSchema({ resolvers: [NewResolver], validate: false });
    const error = authorizeOperation(s, admin, parse('mutation { purgeEverything }'), undefined);
    expect(error?.message).toBe('Mutation.purgeEverything declares no role, so nobody may call it');
    expect(error?.extensions.code).toBe('FORBIDDEN');
    expect(authorizeOperation(s, viewer, parse('{ fine }'), undefined)).toBeNull();
  });
});
