// The query editor's logic, kept apart from its React components so it is
// unit-tested without rendering: which controls a query type shows, the
// parameters of each dropdown's list, and the changes a control makes.
import { ChainwatchQuery, QueryType, TEMPLATED_FIELDS } from './types';

export type Control =
  | 'filters'
  | 'metrics'
  | 'groupBy'
  | 'rootsOnly'
  | 'format'
  | 'driftView'
  | 'monitor'
  | 'kind'
  | 'qualityView'
  | 'evaluator'
  | 'metric'
  | 'search'
  | 'traceId'
  | 'rawSql'
  | 'list'
  | 'limit';

const CONTROLS: Record<QueryType, Control[]> = {
  timeseries: ['filters', 'metrics', 'groupBy', 'rootsOnly', 'format'],
  drift: ['driftView', 'monitor', 'kind'],
  alerts: ['monitor'],
  quality: ['qualityView', 'evaluator', 'metric', 'filters'],
  traces: ['filters', 'search', 'limit'],
  trace: ['traceId'],
  sql: ['rawSql', 'limit'],
  variable: ['list', 'filters'],
};

// controlsFor lists the controls a query type shows, in order.
export function controlsFor(t: QueryType | undefined): Control[] {
  return CONTROLS[t ?? 'timeseries'] ?? [];
}

// listParams are a dropdown's resource parameters: each list narrowed by
// the filters set before it (versions by app and chain, metrics by
// evaluator).
export function listParams(list: string, q: ChainwatchQuery): Record<string, string | undefined> {
  switch (list) {
    case 'environments':
      return { app: q.app };
    case 'chains':
      return { app: q.app, environment: q.environment };
    case 'chain_versions':
      return { app: q.app, environment: q.environment, chain: q.chain };
    case 'components':
    case 'models':
      return { app: q.app, chain: q.chain, chainVersion: q.chainVersion };
    case 'monitors':
    case 'evaluators':
      return { app: q.app, chain: q.chain };
    case 'metrics':
      return { app: q.app, evaluator: q.evaluator };
    default:
      return {};
  }
}

// withQueryType switches the type, keeping the filters and dropping what
// only the old type used, and fills the new type's defaults.
export function withQueryType(q: ChainwatchQuery, t: QueryType): ChainwatchQuery {
  const keep: ChainwatchQuery = {
    refId: q.refId,
    datasource: q.datasource,
    hide: q.hide,
    queryType: t,
    app: q.app,
    environment: q.environment,
    chain: q.chain,
    chainVersion: q.chainVersion,
  };
  switch (t) {
    case 'timeseries':
      return { ...keep, metrics: ['requests'], rootsOnly: true };
    case 'sql':
      return { ...keep, rawSql: 'SELECT $__timeInterval(start_time) AS time, count() AS spans\nFROM spans FINAL\nWHERE $__timeFilter(start_time)\nGROUP BY time ORDER BY time' };
    case 'variable':
      return { ...keep, list: 'apps' };
    default:
      return keep;
  }
}

// setField sets one field; "" and empty lists remove it (the backend reads
// a missing field as no filter).
export function setField<K extends keyof ChainwatchQuery>(q: ChainwatchQuery, k: K, v: ChainwatchQuery[K]): ChainwatchQuery {
  const out: ChainwatchQuery = { ...q };
  if (v === '' || v === undefined || (Array.isArray(v) && v.length === 0)) {
    delete out[k];
  } else {
    out[k] = v;
  }
  return out;
}

// problems are what the backend would refuse, shown before running.
export function problems(q: ChainwatchQuery): string[] {
  const out: string[] = [];
  if (q.queryType === 'trace' && !q.traceId) {
    out.push('enter a trace id (or pick one in a traces table)');
  }
  if (q.queryType === 'sql' && !q.rawSql?.trim()) {
    out.push('the SQL is empty');
  }
  if (q.queryType === 'quality' && q.view === 'distribution' && (!q.evaluator || !q.metric)) {
    out.push('a distribution needs an evaluator and a metric');
  }
  if (q.queryType === 'variable' && !q.list) {
    out.push('pick a list');
  }
  return out;
}

// interpolate replaces template variables in the query's string fields
// (the datasource passes getTemplateSrv().replace).
export function interpolate(query: ChainwatchQuery, replace: (v: string) => string): ChainwatchQuery {
  const out: ChainwatchQuery = { ...query };
  for (const f of TEMPLATED_FIELDS) {
    const v = out[f];
    if (typeof v === 'string' && v !== '') {
      (out as unknown as Record<string, unknown>)[f] = replace(v);
    }
  }
  return out;
}
