/** A labelled progress bar (role progressbar, 0–100), with the percentage written beside it. */
export function ProgressBar({ value, label, tone, compact }: { value: number; label: string; tone?: string; compact?: boolean }) {
  const pct = Math.max(0, Math.min(100, Math.round(value * 1000) / 10));
  return (
    <div className={`progress${compact ? ' progress-compact' : ''}`}>
      <div
        className="progress-track"
        role="progressbar"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={pct}
        aria-valuetext={`${pct} %`}
      >
        <div className={`progress-fill${tone ? ` progress-${tone}` : ''}`} style={{ width: `${pct}%` }} />
      </div>
      <span className="progress-text">{pct.toFixed(pct % 1 ? 1 : 0)} %</span>
    </div>
  );
}
