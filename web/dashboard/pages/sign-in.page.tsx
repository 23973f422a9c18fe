import { useState, type FormEvent } from 'react';
import { Field } from '../components/field';

/**
 * The token form, shown when the gateway answers `me` with UNAUTHENTICATED (auth is on). The
 * token (a JWT or an API token) is kept for this tab only (sessionStorage) and sent as
 * `Authorization: Bearer` and in the WebSocket's connectionParams.
 */
export function SignInPage({ onSubmit, refused }: { onSubmit: (token: string) => void; refused?: string }) {
  const [token, setToken] = useState('');
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (token.trim()) onSubmit(token.trim());
  };
  return (
    <div className="sign-in">
      <form className="card sign-in-card" onSubmit={submit} aria-labelledby="sign-in-title">
        <h1 id="sign-in-title">
          <span className="brand-mark" aria-hidden="true">
            ◆
          </span>{' '}
          Sign in to jobwire
        </h1>
        <p className="muted">This gateway asks for credentials. Paste a JWT or an API token; it is kept for this tab only.</p>
        <Field label="Token" error={refused ? `That token was refused: ${refused}` : null}>
          {(p) => <input {...p} type="password" autoComplete="off" autoFocus value={token} onChange={(e) => setToken(e.target.value)} />}
        </Field>
        <button className="btn btn-primary" type="submit" disabled={!token.trim()}>
          Sign in
        </button>
      </form>
    </div>
  );
}
