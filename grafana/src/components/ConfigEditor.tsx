import React, { FormEvent } from 'react';
import { DataSourcePluginOptionsEditorProps } from '@grafana/data';
import { InlineField, Input, SecretInput } from '@grafana/ui';

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
    </div>
  );
}
