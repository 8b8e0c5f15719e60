import { DataSourceJsonData } from '@grafana/data';
import { DataQuery } from '@grafana/schema';

// The query model: grafana/pkg/plugin/models.go's Query, field for field.
export type QueryType = 'timeseries' | 'drift' | 'alerts' | 'quality' | 'traces' | 'trace' | 'sql' | 'variable';

export const QUERY_TYPES: Array<{ value: QueryType; label: string; description: string }> = [
  { value: 'timeseries', label: 'Time series', description: 'Requests, errors, latency percentiles, tokens per chain version, model or app' },
  { value: 'drift', label: 'Drift', description: "Each monitor's statistic, threshold and p-value over time; or a runs table" },
  { value: 'alerts', label: 'Alerts', description: 'Drift alerts as regions (firing → resolved), for annotations' },
  { value: 'quality', label: 'Quality', description: 'Evaluator scores, distributions, guard hits, feedback, judge–human agreement' },
  { value: 'traces', label: 'Trace search', description: 'A table of traces matching the filters and a text' },
  { value: 'trace', label: 'Trace', description: "One trace's spans for the Trace view" },
  { value: 'sql', label: 'Raw SQL', description: 'A read-only query with $__timeFilter(col), $__timeInterval(col), $__fromTime, $__toTime' },
  { value: 'variable', label: 'Variable', description: 'A list of values: apps, chains, versions, models, monitors, evaluators, …' },
];

export const METRICS = [
  'requests',
  'spans',
  'errors',
  'error_rate',
  'request_error_rate',
  'latency_p50',
  'latency_p95',
  'latency_p99',
  'input_tokens',
  'output_tokens',
  'estimated_cost',
] as const;

export const GROUP_BYS = ['app', 'environment', 'chain', 'chain_version', 'component', 'model'] as const;

export const LISTS = [
  'apps',
  'environments',
  'chains',
  'chain_versions',
  'components',
  'models',
  'monitors',
  'evaluators',
  'metrics',
  'datasets',
] as const;

export const DRIFT_VIEWS = ['statistic', 'runs'] as const;
export const QUALITY_VIEWS = ['scores', 'distribution', 'guards', 'feedback', 'agreement'] as const;

export interface ChainwatchQuery extends DataQuery {
  queryType?: QueryType;
  app?: string;
  environment?: string;
  chain?: string;
  chainVersion?: string;
  component?: string;
  componentKind?: string;
  model?: string;
  status?: string;
  metrics?: string[];
  groupBy?: string[];
  rootsOnly?: boolean;
  rollup?: 'auto' | 'never' | 'always';
  format?: 'time_series' | 'table';
  view?: string;
  monitor?: string;
  kind?: string;
  evaluator?: string;
  metric?: string;
  traceId?: string;
  userId?: string;
  sessionId?: string;
  text?: string;
  limit?: number;
  rawSql?: string;
  list?: string;
}

export const DEFAULT_QUERY: Partial<ChainwatchQuery> = {
  queryType: 'timeseries',
  metrics: ['requests'],
  rootsOnly: true,
};

// The string fields Grafana's template variables are interpolated in.
export const TEMPLATED_FIELDS: Array<keyof ChainwatchQuery> = [
  'app',
  'environment',
  'chain',
  'chainVersion',
  'component',
  'componentKind',
  'model',
  'status',
  'monitor',
  'kind',
  'evaluator',
  'metric',
  'traceId',
  'userId',
  'sessionId',
  'text',
  'rawSql',
];

export interface ChainwatchOptions extends DataSourceJsonData {
  address?: string;
  database?: string;
  user?: string;
  maxRows?: number;
  timeoutSeconds?: number;
  // USD per million tokens by requested model (the estimated_cost metric).
  prices?: Record<string, { input: number; output: number }>;
}

export interface ChainwatchSecureJsonData {
  password?: string;
}
