import { controlsFor, interpolate, listParams, problems, setField, withQueryType } from './editor';
import { ChainwatchQuery, QUERY_TYPES } from './types';

describe('editor', () => {
  it('shows controls for every query type', () => {
    for (const t of QUERY_TYPES) {
      expect(controlsFor(t.value).length).toBeGreaterThan(0);
    }
    expect(controlsFor('timeseries')).toEqual(['filters', 'metrics', 'groupBy', 'rootsOnly', 'format']);
    expect(controlsFor('sql')).toContain('rawSql');
    expect(controlsFor('trace')).toEqual(['traceId']);
  });

  it('narrows lists by the filters set before them', () => {
    const q: ChainwatchQuery = { refId: 'A', app: 'support-bot', chain: 'answer', evaluator: 'guard_pii' };
    expect(listParams('chain_versions', q)).toEqual({ app: 'support-bot', environment: undefined, chain: 'answer' });
    expect(listParams('metrics', q)).toEqual({ app: 'support-bot', evaluator: 'guard_pii' });
    expect(listParams('apps', q)).toEqual({});
  });

  it('keeps the filters and drops the old type’s fields when the type changes', () => {
    const q: ChainwatchQuery = { refId: 'A', queryType: 'timeseries', app: 'a', chain: 'c', metrics: ['errors'], groupBy: ['model'] };
    const s = withQueryType(q, 'sql');
    expect(s.queryType).toBe('sql');
    expect(s.app).toBe('a');
    expect(s.chain).toBe('c');
    expect(s.metrics).toBeUndefined();
    expect(s.rawSql).toContain('$__timeFilter(start_time)');
    expect(withQueryType(s, 'timeseries').metrics).toEqual(['requests']);
    expect(withQueryType(s, 'variable').list).toBe('apps');
  });

  it('removes a field set to empty', () => {
    const q = setField({ refId: 'A', app: 'x' }, 'app', '');
    expect('app' in q).toBe(false);
    expect(setField({ refId: 'A' }, 'metrics', [])).toEqual({ refId: 'A' });
    expect(setField({ refId: 'A' }, 'limit', 5)).toEqual({ refId: 'A', limit: 5 });
  });

  it('names what the backend would refuse', () => {
    expect(problems({ refId: 'A', queryType: 'trace' })).toEqual(['enter a trace id (or pick one in a traces table)']);
    expect(problems({ refId: 'A', queryType: 'sql', rawSql: '  ' })).toEqual(['the SQL is empty']);
    expect(problems({ refId: 'A', queryType: 'quality', view: 'distribution', evaluator: 'e' })).toEqual([
      'a distribution needs an evaluator and a metric',
    ]);
    expect(problems({ refId: 'A', queryType: 'timeseries' })).toEqual([]);
  });

  it('interpolates template variables in string fields only', () => {
    const vars: Record<string, string> = { $app: 'support-bot', $trace: 'abc' };
    const out = interpolate(
      { refId: 'A', app: '$app', traceId: '$trace', metrics: ['$app'], rawSql: "SELECT '$app'" },
      (v) => v.replace(/\$[a-z]+/g, (m) => vars[m] ?? m)
    );
    expect(out.app).toBe('support-bot');
    expect(out.traceId).toBe('abc');
    expect(out.rawSql).toBe("SELECT 'support-bot'");
    expect(out.metrics).toEqual(['$app']);
  });
});
