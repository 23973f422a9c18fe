import type {
  ClusterMode,
  DataFormat,
  ExecutionBackend,
  InstanceType,
  JobStatus,
  JsonObject,
  ProcessingMode,
  RunStatus,
  SourceType,
  StallAction,
} from '../domain';

/**
 * Inputs as the service layer takes them: the same shapes as the GraphQL inputs in
 * contract.graphql (the resolvers' input classes satisfy these), with GraphQL defaults possibly
 * missing when called from code. Dates arrive as `Date`.
 */
export interface SourceConfigInput {
  type: SourceType;
  params: unknown;
  filePattern?: string | null;
  schemaInference?: boolean | null;
}
export interface DestinationInput {
  schema: string;
  table: string;
}
export interface ProcessingConfigInput {
  mode?: ProcessingMode | null;
  format?: DataFormat | null;
  batchSize?: number | null;
  checkpointEnabled?: boolean | null;
  watermarkSeconds?: number | null;
  triggerIntervalSeconds?: number | null;
  maxRowsPerSecond?: number | null;
  sparkApplication?: { appResource: string; mainClass: string; args?: string[] | null } | null;
}
export interface ComputeConfigInput {
  clusterMode?: ClusterMode | null;
  instanceType?: InstanceType | null;
  minWorkers?: number | null;
  maxWorkers?: number | null;
  autoscaling?: boolean | null;
  photon?: boolean | null;
  adaptiveQueryExecution?: boolean | null;
  dynamicPartitionPruning?: boolean | null;
  costBasedOptimizer?: boolean | null;
  sparkConf?: unknown;
}
export interface ScheduleConfigInput {
  cron: string;
  timezone?: string | null;
  startAt?: Date | null;
  endAt?: Date | null;
  retryDelaySeconds?: number | null;
  enabled?: boolean | null;
}
export interface CreateJobInput {
  name: string;
  description?: string | null;
  tags?: string[] | null;
  backend?: ExecutionBackend | null;
  source: SourceConfigInput;
  destination: DestinationInput;
  processing?: ProcessingConfigInput | null;
  compute?: ComputeConfigInput | null;
  schedule?: ScheduleConfigInput | null;
  maxAttempts?: number | null;
  stallTimeoutSeconds?: number | null;
  onStall?: StallAction | null;
}
export interface UpdateJobInput {
  name?: string | null;
  description?: string | null;
  tags?: string[] | null;
  source?: SourceConfigInput | null;
  destination?: DestinationInput | null;
  processing?: ProcessingConfigInput | null;
  /** `null` removes the schedule; absent leaves it as it is. */
  schedule?: ScheduleConfigInput | null;
  maxAttempts?: number | null;
  stallTimeoutSeconds?: number | null;
  onStall?: StallAction | null;
}
export interface JobFilter {
  status?: JobStatus | null;
  tag?: string | null;
  search?: string | null;
  backend?: ExecutionBackend | null;
}
export interface RunFilter {
  jobId?: string | null;
  status?: RunStatus | null;
  backend?: ExecutionBackend | null;
  /** Runs of the jobs carrying this tag. */
  tag?: string | null;
}
export interface PageArgs {
  first?: number | null;
  after?: string | null;
}

export interface Connection<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
  totalCount?: number;
}
export type { JsonObject };
