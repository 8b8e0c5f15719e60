import React, { useEffect, useState } from 'react';
import { QueryEditorProps, SelectableValue } from '@grafana/data';
import { InlineField, InlineFieldRow, InlineSwitch, Input, MultiSelect, Select, TextArea } from '@grafana/ui';

import { DataSource } from '../datasource';
import { controlsFor, listParams, problems, setField, withQueryType } from '../editor';
import {
  ChainwatchOptions,
  ChainwatchQuery,
  DRIFT_VIEWS,
  GROUP_BYS,
  LISTS,
  METRICS,
  QUALITY_VIEWS,
  QUERY_TYPES,
  QueryType,
} from '../types';

type Props = QueryEditorProps<DataSource, ChainwatchQuery, ChainwatchOptions>;

const opts = (vs: readonly string[]): Array<SelectableValue<string>> => vs.map((v) => ({ label: v, value: v }));

// useList loads a dropdown's values from the backend (GET lists/{list}).
function useList(ds: DataSource, list: string, params: Record<string, string | undefined>): Array<SelectableValue<string>> {
  const [values, setValues] = useState<string[]>([]);
  const key = JSON.stringify(params);
  useEffect(() => {
    let live = true;
    ds.list(list, JSON.parse(key))
      .then((v) => live && setValues(v ?? []))
      .catch(() => live && setValues([]));
    return () => {
      live = false;
    };
  }, [ds, list, key]);
  return opts(values);
}

function ListSelect(props: {
  ds: DataSource;
  list: string;
  label: string;
  query: ChainwatchQuery;
  value?: string;
  onChange: (v: string) => void;
}) {
  const options = useList(props.ds, props.list, listParams(props.list, props.query));
  return (
    <InlineField label={props.label} labelWidth={14}>
      <Select
        aria-label={props.label}
        width={24}
        isClearable
        allowCustomValue
        options={options}
        value={props.value ? { label: props.value, value: props.value } : null}
        onChange={(v) => props.onChange(v?.value ?? '')}
      />
    </InlineField>
  );
}

export function QueryEditor({ query, onChange, onRunQuery, datasource }: Props) {
  const q: ChainwatchQuery = query.queryType ? query : withQueryType(query, 'timeseries');
  const controls = controlsFor(q.queryType);
  const set = <K extends keyof ChainwatchQuery>(k: K, v: ChainwatchQuery[K], run = true) => {
    onChange(setField(q, k, v));
    if (run) {
      onRunQuery();
    }
  };
  const issues = problems(q);
  return (
    <div>
      <InlineFieldRow>
        <InlineField label="Query type" labelWidth={14}>
          <Select
            aria-label="Query type"
            width={24}
            options={QUERY_TYPES}
            value={q.queryType}
            onChange={(v) => {
              onChange(withQueryType(q, v.value as QueryType));
              onRunQuery();
            }}
          />
        </InlineField>
        {controls.includes('driftView') && (
          <InlineField label="View" labelWidth={8}>
            <Select aria-label="View" width={20} options={opts(DRIFT_VIEWS)} value={q.view ?? 'statistic'} onChange={(v) => set('view', v.value)} />
          </InlineField>
        )}
        {controls.includes('qualityView') && (
          <InlineField label="View" labelWidth={8}>
            <Select aria-label="View" width={20} options={opts(QUALITY_VIEWS)} value={q.view ?? 'scores'} onChange={(v) => set('view', v.value)} />
          </InlineField>
        )}
      </InlineFieldRow>
      {controls.includes('filters') && (
        <InlineFieldRow>
          <ListSelect ds={datasource} list="apps" label="App" query={q} value={q.app} onChange={(v) => set('app', v)} />
          <ListSelect ds={datasource} list="environments" label="Environment" query={q} value={q.environment} onChange={(v) => set('environment', v)} />
          <ListSelect ds={datasource} list="chains" label="Chain" query={q} value={q.chain} onChange={(v) => set('chain', v)} />
          <ListSelect ds={datasource} list="chain_versions" label="Version" query={q} value={q.chainVersion} onChange={(v) => set('chainVersion', v)} />
          {q.queryType !== 'quality' && (
            <>
              <ListSelect ds={datasource} list="components" label="Component" query={q} value={q.component} onChange={(v) => set('component', v)} />
              <ListSelect ds={datasource} list="models" label="Model" query={q} value={q.model} onChange={(v) => set('model', v)} />
              <InlineField label="Status" labelWidth={10}>
                <Select aria-label="Status" width={14} isClearable options={opts(['ok', 'error', 'unset'])} value={q.status ?? null} onChange={(v) => set('status', v?.value ?? '')} />
              </InlineField>
            </>
          )}
        </InlineFieldRow>
      )}
      {controls.includes('metrics') && (
        <InlineFieldRow>
          <InlineField label="Metrics" labelWidth={14}>
            <MultiSelect aria-label="Metrics" width={60} options={opts(METRICS)} value={q.metrics ?? []} onChange={(vs) => set('metrics', vs.map((v) => v.value!))} />
          </InlineField>
          <InlineField label="Group by" labelWidth={10}>
            <MultiSelect aria-label="Group by" width={40} options={opts(GROUP_BYS)} value={q.groupBy ?? []} onChange={(vs) => set('groupBy', vs.map((v) => v.value!))} />
          </InlineField>
          <InlineField label="Requests only" tooltip="Root spans only: one per chain run; latency is end to end">
            <InlineSwitch value={!!q.rootsOnly} onChange={(e) => set('rootsOnly', e.currentTarget.checked || undefined)} />
          </InlineField>
          <InlineField label="Table" tooltip="One row per group over the whole range">
            <InlineSwitch value={q.format === 'table'} onChange={(e) => set('format', e.currentTarget.checked ? 'table' : undefined)} />
          </InlineField>
        </InlineFieldRow>
      )}
      {(controls.includes('monitor') || controls.includes('evaluator')) && (
        <InlineFieldRow>
          {controls.includes('monitor') && <ListSelect ds={datasource} list="monitors" label="Monitor" query={q} value={q.monitor} onChange={(v) => set('monitor', v)} />}
          {controls.includes('kind') && (
            <InlineField label="Kind" labelWidth={8}>
              <Select aria-label="Kind" width={14} isClearable options={opts(['drift', 'skew'])} value={q.kind ?? null} onChange={(v) => set('kind', v?.value ?? '')} />
            </InlineField>
          )}
          {controls.includes('evaluator') && <ListSelect ds={datasource} list="evaluators" label="Evaluator" query={q} value={q.evaluator} onChange={(v) => set('evaluator', v)} />}
          {controls.includes('metric') && <ListSelect ds={datasource} list="metrics" label="Metric" query={q} value={q.metric} onChange={(v) => set('metric', v)} />}
        </InlineFieldRow>
      )}
      {controls.includes('search') && (
        <InlineFieldRow>
          <InlineField label="Text" labelWidth={14}>
            <Input aria-label="Text" width={30} value={q.text ?? ''} onChange={(e) => set('text', e.currentTarget.value, false)} onBlur={onRunQuery} />
          </InlineField>
          <InlineField label="User" labelWidth={8}>
            <Input aria-label="User" width={20} value={q.userId ?? ''} onChange={(e) => set('userId', e.currentTarget.value, false)} onBlur={onRunQuery} />
          </InlineField>
          <InlineField label="Session" labelWidth={10}>
            <Input aria-label="Session" width={20} value={q.sessionId ?? ''} onChange={(e) => set('sessionId', e.currentTarget.value, false)} onBlur={onRunQuery} />
          </InlineField>
        </InlineFieldRow>
      )}
      {controls.includes('traceId') && (
        <InlineField label="Trace id" labelWidth={14}>
          <Input aria-label="Trace id" width={40} value={q.traceId ?? ''} onChange={(e) => set('traceId', e.currentTarget.value, false)} onBlur={onRunQuery} />
        </InlineField>
      )}
      {controls.includes('rawSql') && (
        <InlineField label="SQL" labelWidth={14} grow tooltip="Read-only. Macros: $__timeFilter(col), $__timeInterval(col), $__fromTime, $__toTime, $__interval_s">
          <TextArea aria-label="SQL" rows={6} value={q.rawSql ?? ''} onChange={(e) => set('rawSql', e.currentTarget.value, false)} onBlur={onRunQuery} />
        </InlineField>
      )}
      {controls.includes('list') && (
        <InlineField label="List" labelWidth={14}>
          <Select aria-label="List" width={24} options={opts(LISTS)} value={q.list} onChange={(v) => set('list', v.value)} />
        </InlineField>
      )}
      {controls.includes('limit') && (
        <InlineField label="Limit" labelWidth={14}>
          <Input aria-label="Limit" type="number" width={12} value={q.limit ?? ''} onChange={(e) => set('limit', e.currentTarget.value === '' ? undefined : Number(e.currentTarget.value), false)} onBlur={onRunQuery} />
        </InlineField>
      )}
      {issues.length > 0 && <div role="alert">{issues.join('; ')}</div>}
    </div>
  );
}
