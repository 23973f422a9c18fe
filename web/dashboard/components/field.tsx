/**
 * Form fields with their label, a hint and the API's error for them. The API names the input
 * field of a BAD_USER_INPUT error (`extensions.field`, e.g. `input.source.params.path`); each field
 * here is given the path it edits, and {@link errorFor} puts the message beside the closest one.
 */
import { useId, type ReactNode } from 'react';

/** The message for `path` when the API's error names it or something inside it (`input.tags[2]` → `input.tags`). */
export function errorFor(
  path: string,
  error: { field?: string; message: string } | null | undefined,
  paths: readonly string[],
): string | null {
  if (!error?.field) return null;
  const owner = ownerOf(error.field, paths);
  if (owner !== path) return null;
  // The API's message starts with the field's path ("input.destination.table: must be …"); beside the field that is noise.
  return error.message.startsWith(`${error.field}: `) ? error.message.slice(error.field.length + 2) : error.message;
}

/** Which of `paths` shows an error about `field`: the longest that is `field` itself or a prefix of it. */
export function ownerOf(field: string, paths: readonly string[]): string | null {
  let best: string | null = null;
  for (const p of paths) {
    const inside = field === p || field.startsWith(`${p}.`) || field.startsWith(`${p}[`);
    if (inside && (!best || p.length > best.length)) best = p;
  }
  return best;
}

interface FieldProps {
  label: string;
  hint?: ReactNode;
  error?: string | null;
  children: (props: { id: string; 'aria-invalid'?: boolean; 'aria-describedby'?: string }) => ReactNode;
  wide?: boolean;
}

/** A label, the control (given its id and ARIA wiring) and, below it, the hint or the error. */
export function Field({ label, hint, error, children, wide }: FieldProps) {
  const id = useId();
  const noteId = `${id}-note`;
  return (
    <div className={`field${error ? ' field-invalid' : ''}${wide ? ' field-wide' : ''}`}>
      <label htmlFor={id}>{label}</label>
      {children({ id, 'aria-invalid': error ? true : undefined, 'aria-describedby': error || hint ? noteId : undefined })}
      {error ? (
        <div id={noteId} className="field-error" role="alert">
          {error}
        </div>
      ) : hint ? (
        <div id={noteId} className="field-hint">
          {hint}
        </div>
      ) : null}
    </div>
  );
}
