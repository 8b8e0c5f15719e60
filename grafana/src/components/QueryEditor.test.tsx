import '@testing-library/jest-dom';
import React from 'react';
import { fireEvent, render, screen, waitFor } from '@testing-library/react';

import { QueryEditor } from './QueryEditor';
import { ConfigEditor, parsePrices } from './ConfigEditor';
import { ChainwatchQuery } from '../types';

function fakeDatasource(lists: Record<string, string[]>) {
  const calls: Array<[string, Record<string, string | undefined>]> = [];
  return {
    calls,
    ds: {
      list: jest.fn(async (list: string, params: Record<string, string | undefined>) => {
        calls.push([list, params]);
        return lists[list] ?? [];
      }),
    } as any,
  };
}

describe('QueryEditor', () => {
  it('loads the filter lists from the backend, narrowed by the query', async () => {
    const { ds, calls } = fakeDatasource({ apps: ['docs-qa', 'support-bot'] });
    const query: ChainwatchQuery = { refId: 'A', queryType: 'timeseries', app: 'support-bot', metrics: ['requests'] };
    render(<QueryEditor query={query} onChange={jest.fn()} onRunQuery={jest.fn()} datasource={ds} />);
    await waitFor(() => expect(calls.map((c) => c[0])).toEqual(expect.arrayContaining(['apps', 'chains', 'chain_versions', 'models'])));
    expect(calls.find((c) => c[0] === 'chain_versions')![1]).toEqual({ app: 'support-bot', environment: undefined, chain: undefined });
    expect(screen.getByLabelText('Metrics')).toBeInTheDocument();
  });

  it('edits raw SQL and runs it on blur', async () => {
    const { ds } = fakeDatasource({});
    const onChange = jest.fn();
    const onRunQuery = jest.fn();
    const query: ChainwatchQuery = { refId: 'A', queryType: 'sql', rawSql: 'SELECT 1' };
    render(<QueryEditor query={query} onChange={onChange} onRunQuery={onRunQuery} datasource={ds} />);
    const sql = screen.getByLabelText('SQL');
    fireEvent.change(sql, { target: { value: 'SELECT 2' } });
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'sql', rawSql: 'SELECT 2' });
    expect(onRunQuery).not.toHaveBeenCalled();
    fireEvent.blur(sql);
    expect(onRunQuery).toHaveBeenCalled();
  });

  it('says what is missing before the query runs', () => {
    const { ds } = fakeDatasource({});
    render(<QueryEditor query={{ refId: 'A', queryType: 'trace' }} onChange={jest.fn()} onRunQuery={jest.fn()} datasource={ds} />);
    expect(screen.getByRole('alert')).toHaveTextContent('enter a trace id (or pick one in a traces table)');
  });
});

describe('ConfigEditor', () => {
  it('keeps the password in secure JSON and the address in jsonData', () => {
    const onOptionsChange = jest.fn();
    const options: any = { jsonData: {}, secureJsonFields: {}, secureJsonData: {} };
    render(<ConfigEditor options={options} onOptionsChange={onOptionsChange} />);
    fireEvent.change(screen.getByLabelText('Address'), { target: { value: 'clickhouse:9000' } });
    expect(onOptionsChange).toHaveBeenLastCalledWith(expect.objectContaining({ jsonData: { address: 'clickhouse:9000' } }));
    fireEvent.change(screen.getByLabelText('Password'), { target: { value: 's3cret' } });
    const last = onOptionsChange.mock.calls[onOptionsChange.mock.calls.length - 1][0];
    expect(last.secureJsonData).toEqual({ password: 's3cret' });
    expect(last.jsonData.password).toBeUndefined();
  });
});

describe('parsePrices', () => {
  it('accepts model prices and names what is wrong', () => {
    expect(parsePrices('{"gpt-4o-mini": {"input": 0.15, "output": 0.6}}')).toEqual({ 'gpt-4o-mini': { input: 0.15, output: 0.6 } });
    expect(parsePrices('')).toEqual({});
    expect(parsePrices('{"m": {"input": -1, "output": 1}}')).toMatch(/^m: want/);
    expect(parsePrices('[1]')).toMatch(/want an object/);
    expect(parsePrices('{')).toMatch(/^not JSON/);
  });
});
