/**
 * The compute settings (cluster mode, instance type, workers, autoscaling, photon) with the
 * gateway's presets (computePresets) to start from. Used by job creation and by the job page's
 * compute editor; errors are shown beside the field the API names (`<prefix>.minWorkers`, …).
 */
import { ComputePresetsDocument, type ClusterMode, type ComputeConfigInput, type InstanceType } from '../../../client/generated/graphql';
import { useQuery } from '../lib/hooks';
import { errorFor, Field } from './field';

/** The settings this form edits (a ComputeConfigInput with every one of them given). */
export interface ComputeValues extends ComputeConfigInput {
  clusterMode: ClusterMode;
  instanceType: InstanceType;
  minWorkers: number;
  maxWorkers: number;
  autoscaling: boolean;
  photon: boolean;
}

export const COMPUTE_PATHS = ['clusterMode', 'instanceType', 'minWorkers', 'maxWorkers', 'autoscaling', 'photon'];

interface Props {
  value: ComputeValues;
  onChange: (v: ComputeValues) => void;
  /** Where these fields sit in the API's input: `input.compute` for createJob, `input` for updateCompute. */
  prefix: string;
  error?: { field?: string; message: string } | null;
  /** Every path the form shows, so an error lands on the closest field. */
  paths: readonly string[];
  disabled?: boolean;
}

export function ComputeFields({ value, onChange, prefix, error, paths, disabled }: Props) {
  const presets = useQuery(ComputePresetsDocument, {});
  const set = (patch: Partial<ComputeValues>) => onChange({ ...value, ...patch });
  const err = (name: string) => errorFor(`${prefix}.${name}`, error, paths);
  const applyPreset = (name: string) => {
    const p = presets.data?.computePresets.find((x) => x.name === name);
    if (p) {
      const { clusterMode, instanceType, minWorkers, maxWorkers, autoscaling, photon } = p.compute;
      onChange({ clusterMode, instanceType, minWorkers, maxWorkers, autoscaling, photon });
    }
  };
  const current = presets.data?.computePresets.find(
    (p) =>
      p.compute.clusterMode === value.clusterMode &&
      p.compute.instanceType === value.instanceType &&
      p.compute.minWorkers === value.minWorkers &&
      p.compute.maxWorkers === value.maxWorkers &&
      p.compute.autoscaling === value.autoscaling &&
      p.compute.photon === value.photon,
  );
  return (
    <div className="grid">
      <Field label="Preset" hint={current?.description ?? 'Custom settings'} wide>
        {(p) => (
          <select {...p} value={current?.name ?? ''} onChange={(e) => applyPreset(e.target.value)} disabled={disabled}>
            <option value="">Custom</option>
            {presets.data?.computePresets.map((x) => (
              <option key={x.name} value={x.name}>
                {x.name}
              </option>
            ))}
          </select>
        )}
      </Field>
      <Field label="Cluster mode" error={err('clusterMode')}>
        {(p) => (
          <select
            {...p}
            value={value.clusterMode}
            onChange={(e) => set({ clusterMode: e.target.value as ClusterMode })}
            disabled={disabled}
          >
            <option value="SINGLE_NODE">SINGLE_NODE</option>
            <option value="MULTI_NODE">MULTI_NODE</option>
            <option value="SERVERLESS">SERVERLESS</option>
          </select>
        )}
      </Field>
      <Field label="Instance type" error={err('instanceType')}>
        {(p) => (
          <select
            {...p}
            value={value.instanceType}
            onChange={(e) => set({ instanceType: e.target.value as InstanceType })}
            disabled={disabled}
          >
            <option value="STANDARD">STANDARD</option>
            <option value="COMPUTE_OPTIMIZED">COMPUTE_OPTIMIZED</option>
            <option value="MEMORY_OPTIMIZED">MEMORY_OPTIMIZED</option>
          </select>
        )}
      </Field>
      <Field label="Min workers" error={err('minWorkers')}>
        {(p) => (
          <input
            {...p}
            type="number"
            value={value.minWorkers}
            onChange={(e) => set({ minWorkers: e.target.valueAsNumber })}
            disabled={disabled}
          />
        )}
      </Field>
      <Field label="Max workers" error={err('maxWorkers')}>
        {(p) => (
          <input
            {...p}
            type="number"
            value={value.maxWorkers}
            onChange={(e) => set({ maxWorkers: e.target.valueAsNumber })}
            disabled={disabled}
          />
        )}
      </Field>
      <Checkbox
        label="Autoscaling"
        checked={value.autoscaling}
        onChange={(autoscaling) => set({ autoscaling })}
        disabled={disabled}
        error={err('autoscaling')}
      />
      <Checkbox label="Photon" checked={value.photon} onChange={(photon) => set({ photon })} disabled={disabled} error={err('photon')} />
    </div>
  );
}

/** A labelled checkbox with the API's error for it. */
export function Checkbox(props: {
  label: string;
  checked: boolean;
  onChange: (v: boolean) => void;
  disabled?: boolean;
  error?: string | null;
}) {
  return (
    <div className={`field field-check${props.error ? ' field-invalid' : ''}`}>
      <label>
        <input type="checkbox" checked={props.checked} onChange={(e) => props.onChange(e.target.checked)} disabled={props.disabled} />{' '}
        {props.label}
      </label>
      {props.error ? (
        <div className="field-error" role="alert">
          {props.error}
        </div>
      ) : null}
    </div>
  );
}
