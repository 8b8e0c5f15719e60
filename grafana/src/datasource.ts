import { DataSourceInstanceSettings, CoreApp, MetricFindValue, ScopedVars } from '@grafana/data';
import { DataSourceWithBackend, getTemplateSrv } from '@grafana/runtime';
import { lastValueFrom } from 'rxjs';

import { interpolate } from './editor';
import { ChainwatchOptions, ChainwatchQuery, DEFAULT_QUERY } from './types';

export class DataSource extends DataSourceWithBackend<ChainwatchQuery, ChainwatchOptions> {
  constructor(instanceSettings: DataSourceInstanceSettings<ChainwatchOptions>) {
    super(instanceSettings);
    // Annotations: the alerts query type's frames (time, timeEnd, title,
    // text, tags) are what Grafana's annotation support reads.
    this.annotations = {};
  }

  getDefaultQuery(_: CoreApp): Partial<ChainwatchQuery> {
    return DEFAULT_QUERY;
  }

  filterQuery(query: ChainwatchQuery): boolean {
    return !query.hide;
  }

  // Variables ($app, $chain, …) are replaced here, in the browser; the
  // backend receives plain values and passes them to ClickHouse as query
  // parameters.
  applyTemplateVariables(query: ChainwatchQuery, scopedVars: ScopedVars): ChainwatchQuery {
    return interpolate(query, (v) => getTemplateSrv().replace(v, scopedVars));
  }

  // A dashboard variable's values: the variable query type's one field.
  async metricFindQuery(query: ChainwatchQuery | string, options?: { range?: any }): Promise<MetricFindValue[]> {
    const q: ChainwatchQuery = typeof query === 'string' ? { refId: 'variable', queryType: 'variable', list: query } : { ...query, refId: 'variable', queryType: 'variable' };
    const resp = await lastValueFrom(this.query({ targets: [q], range: options?.range } as any));
    const frame = resp.data?.[0];
    const field = frame?.fields?.[0];
    if (!field) {
      return [];
    }
    const out: MetricFindValue[] = [];
    for (let i = 0; i < field.values.length; i++) {
      out.push({ text: String(field.values[i]) });
    }
    return out;
  }

  // The editor's dropdowns: GET /lists/{list}?app=&chain=…
  async list(list: string, params: Record<string, string | undefined> = {}): Promise<string[]> {
    const clean: Record<string, string> = {};
    for (const [k, v] of Object.entries(params)) {
      if (v) {
        clean[k] = v;
      }
    }
    return this.getResource(`lists/${list}`, clean);
  }
}

