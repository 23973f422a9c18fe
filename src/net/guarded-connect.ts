/**
 * Connections that go only where an {@link AddressPolicy} allows: names are resolved, every
 * resolved address is checked and the connection goes to a checked one (so a name that resolves
 * to a public address for the check and a private one for the connection — DNS rebinding — gets
 * nowhere); IP literals are checked before connecting. A refusal is an
 * {@link AddressNotAllowedError} raised before any packet leaves, so it reads the same whether
 * anything listens at that address or not.
 */
import dns from 'node:dns';
import net from 'node:net';
import tls from 'node:tls';
import { AddressNotAllowedError, type AddressPolicy } from './address-policy';

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void;

/** A `lookup` for `net.connect`/`http.request`: `dns.lookup`, keeping only the addresses `policy` allows (none: refused). */
export function guardedLookup(policy: AddressPolicy): net.LookupFunction {
  return ((hostname: string, options: dns.LookupOptions, callback: LookupCallback) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      const allowed = addresses.filter((a) => policy.allows(a.address));
      if (allowed.length === 0) return callback(new AddressNotAllowedError(hostname), []);
      if (options.all) return callback(null, allowed);
      callback(null, allowed[0].address, allowed[0].family);
    });
  }) as net.LookupFunction;
}

/**
 * The refusal for connecting to `host` when it is an IP literal the policy refuses, or a unix socket
 * path (allowed only by `*`); null otherwise (a name is checked by {@link guardedLookup}).
 */
export function refusedLiteral(host: string, policy: AddressPolicy): AddressNotAllowedError | null {
  if (policy.allowsAll) return null;
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  if (bare.startsWith('/')) return new AddressNotAllowedError(bare);
  return net.isIP(bare) && !policy.allows(bare) ? new AddressNotAllowedError(host) : null;
}

/** A socket that fails with `err` as soon as it is used, the way a refused connection does. */
function failedSocket(err: Error): net.Socket {
  const socket = new net.Socket();
  process.nextTick(() => socket.destroy(err));
  return socket;
}

/** A kafkajs `socketFactory`: the default one (keep-alive, SNI for names) with every broker connection guarded. */
export function guardedKafkaSocketFactory(policy: AddressPolicy) {
  const lookup = guardedLookup(policy);
  return ({ host, port, ssl, onConnect }: { host: string; port: number; ssl: tls.ConnectionOptions | boolean; onConnect: () => void }) => {
    const refused = refusedLiteral(host, policy);
    if (refused) return failedSocket(refused);
    const socket = ssl
      ? tls.connect(
          { host, port, lookup, ...(!net.isIP(host) ? { servername: host } : {}), ...(typeof ssl === 'object' ? ssl : {}) },
          onConnect,
        )
      : net.connect({ host, port, lookup }, onConnect);
    socket.setKeepAlive(true, 60_000);
    return socket;
  };
}

/**
 * A node-postgres `stream` option: a plain socket whose `connect(port, host)` (how pg opens it) goes
 * through the guard; a unix socket path is refused unless every address is allowed.
 */
export function guardedPgStream(policy: AddressPolicy): () => net.Socket {
  const lookup = guardedLookup(policy);
  return () => {
    const socket = new net.Socket();
    const connect = socket.connect.bind(socket) as (...args: unknown[]) => net.Socket;
    (socket as unknown as { connect: (...args: unknown[]) => net.Socket }).connect = (port: unknown, host?: unknown) => {
      // pg passes a unix socket as connect('/run/postgresql/.s.PGSQL.5432').
      if (typeof port === 'string' && port.startsWith('/')) {
        if (policy.allowsAll) return connect(port);
        process.nextTick(() => socket.destroy(new AddressNotAllowedError(port)));
        return socket;
      }
      const refused = refusedLiteral(String(host ?? 'localhost'), policy);
      if (refused) {
        process.nextTick(() => socket.destroy(refused));
        return socket;
      }
      return connect({ port: Number(port), host: String(host ?? 'localhost'), lookup });
    };
    return socket;
  };
}
