import type { ReactNode } from 'react';
import type { JobwireError } from '../../../client/jobwire-client';

/** An error from the API, as one line with its code (role alert: announced when it appears). */
export function ErrorNotice({ error, prefix }: { error: JobwireError | string | undefined | null; prefix?: string }) {
  if (!error) return null;
  const text = typeof error === 'string' ? error : error.message;
  const code = typeof error === 'string' ? null : error.code;
  return (
    <div className="notice notice-bad" role="alert">
      {prefix ? `${prefix}: ` : ''}
      {text}
      {code && code !== 'INTERNAL_SERVER_ERROR' ? <code className="notice-code">{code}</code> : null}
    </div>
  );
}

/** A neutral note (empty lists, "Kafka is not configured"). */
export function Note({ children }: { children: ReactNode }) {
  return <div className="notice">{children}</div>;
}

/** The title row of a page, with actions on the right. */
export function PageHeader({ title, subtitle, children }: { title: ReactNode; subtitle?: ReactNode; children?: ReactNode }) {
  return (
    <header className="page-header">
      <div>
        <h1>{title}</h1>
        {subtitle ? <div className="page-subtitle">{subtitle}</div> : null}
      </div>
      <div className="page-actions">{children}</div>
    </header>
  );
}
