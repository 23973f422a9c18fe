import type { JsonObject } from '../../src/domain';
import { ErrorCode } from '../../src/errors';
import { isSecretKey, maskParams, maskUrlSecrets, mergeMaskedParams, scrubSecrets, secretValues } from '../../src/jobs/secrets';

describe('isSecretKey', () => {
  it.each([
    'password',
    'sslPassword',
    'secretAccessKey',
    'accessKeyId',
    'privateKey',
    'apiToken',
    'Credentials',
    'AUTHORIZATION',
    'key',
    // The names a black-box attack found coming back in clear, and their kin.
    'passwd',
    'pwd',
    'dbPass',
    'passphrase',
    'auth',
    'oauth',
    'apikey',
    'api_key',
    'private',
    'credentials',
    'session',
    'sessionId',
    'sas',
    'sasToken',
    'cookie',
  ])('treats %s as a secret', (name) => expect(isSecretKey(name)).toBe(true));
  it.each(['url', 'host', 'user', 'topic', 'brokers', 'table', 'path', 'passthrough', 'sasl', 'connectionString', 'database'])(
    'does not treat %s as a secret',
    (name) => expect(isSecretKey(name)).toBe(false),
  );
});

describe('maskParams', () => {
  it('masks secret keys at any depth, inside arrays too, and leaves the rest alone', () => {
    const params: JsonObject = {
      host: 'db',
      password: 'pw-1',
      port: 5432,
      sasl: { mechanism: 'plain', username: 'u', password: 'pw-2' },
      replicas: [
        { host: 'r1', password: 'pw-3' },
        { host: 'r2', token: 'tok' },
      ],
      accessKeyId: 'AKIA123',
      nothing: null,
      nullPassword: null,
    };
    expect(maskParams(params)).toEqual({
      host: 'db',
      password: '***',
      port: 5432,
      sasl: { mechanism: 'plain', username: 'u', password: '***' },
      replicas: [
        { host: 'r1', password: '***' },
        { host: 'r2', token: '***' },
      ],
      accessKeyId: '***',
      nothing: null,
      nullPassword: null,
    });
    expect(params.password).toBe('pw-1');
  });

  it('masks every header value, whatever its name', () => {
    expect(maskParams({ url: 'https://x/y', headers: { Accept: 'text/csv', 'X-Tenant': 'acme', Authorization: 'Bearer abc' } })).toEqual({
      url: 'https://x/y',
      headers: { Accept: '***', 'X-Tenant': '***', Authorization: '***' },
    });
  });

  it('masks the password of URL-valued strings and secret query parameters, nowhere else', () => {
    expect(maskParams({ connectionString: 'postgres://app:s3cr3t@db:5432/shop?sslmode=require&password=again' })).toEqual({
      connectionString: 'postgres://app:***@db:5432/shop?sslmode=require&password=***',
    });
    expect(maskUrlSecrets('https://user@host/path')).toBe('https://user@host/path');
    expect(maskUrlSecrets('https://host/a@b')).toBe('https://host/a@b');
    expect(maskUrlSecrets('not a url: user:pw@host')).toBe('not a url: user:pw@host');
    expect(maskUrlSecrets('postgres://u:p%40ss@h/db')).toBe('postgres://u:***@h/db');
    expect(maskParams({ mirrors: ['s3://k:secret@bucket/x'] })).toEqual({ mirrors: ['s3://k:***@bucket/x'] });
  });
});

describe('key=value connection strings', () => {
  it('masks their secrets wherever a string holds one, quoted or not, and nothing else', () => {
    expect(maskParams({ dsn: 'host=db port=5432 user=app password=s3cr3t dbname=shop' })).toEqual({
      dsn: 'host=db port=5432 user=app password=*** dbname=shop',
    });
    expect(maskParams({ conn: "Server=tcp:x.database.windows.net;User ID=app;Password='p w;d';Encrypt=true" })).toEqual({
      conn: 'Server=tcp:x.database.windows.net;User ID=app;Password=***;Encrypt=true',
    });
    expect(maskParams({ jdbc: 'jdbc:postgresql://db/shop?user=app&PWD=abc123&ssl=true' })).toEqual({
      jdbc: 'jdbc:postgresql://db/shop?user=app&PWD=***&ssl=true',
    });
    expect(maskParams({ blob: 'https://acct.blob.core.windows.net/c?sv=2024&sig=Zm9vYmFy&se=2026' })).toEqual({
      blob: 'https://acct.blob.core.windows.net/c?sv=2024&sig=***&se=2026',
    });
    // Sent back as shown, the stored secret stays.
    const stored = { dsn: 'host=db user=app password=s3cr3t' };
    expect(mergeMaskedParams(stored, maskParams(stored))).toEqual(stored);
    expect(maskParams({ note: 'the password policy changed', query: 'select id from passwords' })).toEqual({
      note: 'the password policy changed',
      query: 'select id from passwords',
    });
  });
});

describe('mergeMaskedParams', () => {
  const stored = {
    connectionString: 'postgres://app:s3cr3t@db/shop',
    table: 'orders',
    password: 'pw',
    headers: { Authorization: 'Bearer abc' },
    nested: [{ token: 't1' }],
  };

  it('restores every masked value a client sends back unchanged', () => {
    expect(mergeMaskedParams(stored, maskParams(stored))).toEqual(stored);
  });

  it('keeps changes to other fields, and restores a URL password even when the host changed', () => {
    const incoming = { ...maskParams(stored), table: 'orders_v2', connectionString: 'postgres://app:***@db2/shop' };
    expect(mergeMaskedParams(stored, incoming)).toEqual({
      ...stored,
      table: 'orders_v2',
      connectionString: 'postgres://app:s3cr3t@db2/shop',
    });
  });

  it('takes new secrets as given, and drops keys the client left out', () => {
    expect(mergeMaskedParams(stored, { table: 'orders', password: 'new-pw' })).toEqual({ table: 'orders', password: 'new-pw' });
  });

  it('refuses "***" where nothing is stored, naming the field', () => {
    expect(() => mergeMaskedParams({ host: 'h' }, { host: 'h', password: '***' })).toThrow(
      expect.objectContaining({ code: ErrorCode.BAD_USER_INPUT, field: 'input.source.params.password' }),
    );
    expect(() => mergeMaskedParams({}, { headers: { 'X-Key': '***' } }, 'input.params')).toThrow(
      expect.objectContaining({ field: 'input.params.headers.X-Key' }),
    );
  });
});

describe('scrubbing messages', () => {
  it('removes every secret of the params from a text', () => {
    const params = { connectionString: 'postgres://app:s3cr3t-pw@db/shop', headers: { 'X-Key': 'hdr-value' }, password: 'plain-pw' };
    const secrets = secretValues(params);
    expect(scrubSecrets('auth failed for s3cr3t-pw / hdr-value / plain-pw', secrets)).toBe('auth failed for *** / *** / ***');
  });
});
