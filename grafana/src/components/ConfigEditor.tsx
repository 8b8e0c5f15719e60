import React, { FormEvent, useState } from 'react';
import { DataSourcePluginOptionsEditorProps } from '@grafana/data';
import { InlineField, Input, SecretInput, TextArea } from '@grafana/ui';

import { ChainwatchOptions, ChainwatchSecureJsonData } from '../types';

type Props = DataSourcePluginOptionsEditorProps<ChainwatchOptions, ChainwatchSecureJsonData>;

// ConfigEditor edits the datasource's ClickHouse connection: address
// (native protocol host:port), database, user, the password (secure JSON:
// stored encrypted, never sent back to the browser), and limits.
export function ConfigEditor({ options, onOptionsChange }: Props) {
  const { jsonData, secureJsonFields } = options;
  const secure = (options.secureJsonData ?? {}) as ChainwatchSecureJsonData;
  const setJSON = <K extends keyof ChainwatchOptions>(k: K, v: ChainwatchOptions[K]) =>
    onOptionsChange({ ...options, jsonData: { ...jsonData, [k]: v } });
  const [pricesText, setPricesText] = useState(JSON.stringify(jsonData.prices ?? {}, null, 2));
  const [pricesError, setPricesError] = useState('');
  const num = (e: FormEvent<HTMLInputElement>) => (e.currentTarget.value === '' ? undefined : Number(e.currentTarget.value));
  return (
    <div>
      <InlineField label="Address" labelWidth={18} tooltip="ClickHouse native protocol host:port, e.g. 127.0.0.1:19000 for chainwatch up" required>
        <Input aria-label="Address" width={40} placeholder="127.0.0.1:9000" value={jsonData.address ?? ''} onChange={(e) => setJSON('address', e.currentTarget.value)} />
      </InlineField>
      <InlineField label="Database" labelWidth={18}>
        <Input aria-label="Database" width={40} placeholder="chainwatch" value={jsonData.database ?? ''} onChange={(e) => setJSON('database', e.currentTarget.value)} />
      </InlineField>
      <InlineField label="User" labelWidth={18} tooltip="A read-only user is enough">
        <Input aria-label="User" width={40} placeholder="default" value={jsonData.user ?? ''} onChange={(e) => setJSON('user', e.currentTarget.value)} />
      </InlineField>
      <InlineField label="Password" labelWidth={18}>
        <SecretInput
          aria-label="Password"
          width={40}
          isConfigured={!!secureJsonFields?.password}
          value={secure.password ?? ''}
          onChange={(e) => onOptionsChange({ ...options, secureJsonData: { ...secure, password: e.currentTarget.value } })}
          onReset={() =>
            onOptionsChange({
              ...options,
              secureJsonFields: { ...secureJsonFields, password: false },
              secureJsonData: { ...secure, password: '' },
            })
          }
        />
      </InlineField>
      <InlineField label="Max rows" labelWidth={18} tooltip="Raw SQL results are cut here (default 10000)">
        <Input aria-label="Max rows" type="number" width={20} value={jsonData.maxRows ?? ''} onChange={(e) => setJSON('maxRows', num(e))} />
      </InlineField>
      <InlineField label="Timeout (s)" labelWidth={18} tooltip="Each query's limit on the server (default 30)">
        <Input aria-label="Timeout" type="number" width={20} value={jsonData.timeoutSeconds ?? ''} onChange={(e) => setJSON('timeoutSeconds', num(e))} />
      </InlineField>
      <InlineField
        label="Prices"
        labelWidth={18}
        tooltip='USD per million tokens by requested model, for estimated_cost: {"gpt-4o-mini": {"input": 0.15, "output": 0.6}}'
        invalid={pricesError !== ''}
        error={pricesError}
      >
        <TextArea
          aria-label="Prices"
          cols={60}
          rows={6}
          value={pricesText}
          onChange={(e) => {
            const text = e.currentTarget.value;
            setPricesText(text);
            const parsed = parsePrices(text);
            setPricesError(typeof parsed === 'string' ? parsed : '');
            if (typeof parsed !== 'string') {
              setJSON('prices', parsed);
            }
          }}
        />
      </InlineField>
    </div>
  );
}

// parsePrices reads the prices' JSON, or says what is wrong with it.
export function parsePrices(text: string): Record<string, { input: number; output: number }> | string {
  let v: unknown;
  try {
    v = JSON.parse(text === '' ? '{}' : text);
  } catch (e) {
    return `not JSON: ${(e as Error).message}`;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    return 'want an object of model → {"input": USD, "output": USD}';
  }
  for (const [model, p] of Object.entries(v as Record<string, any>)) {
    if (typeof p?.input !== 'number' || typeof p?.output !== 'number' || p.input < 0 || p.output < 0) {
      return `${model}: want {"input": USD per million, "output": USD per million}, both >= 0`;
    }
  }
  return v as Record<string, { input: number; output: number }>;
}
