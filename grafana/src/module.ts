import { DataSourcePlugin } from '@grafana/data';

import { ConfigEditor } from './components/ConfigEditor';
import { QueryEditor } from './components/QueryEditor';
import { DataSource } from './datasource';
import { ChainwatchOptions, ChainwatchQuery } from './types';

export const plugin = new DataSourcePlugin<DataSource, ChainwatchQuery, ChainwatchOptions>(DataSource)
  .setConfigEditor(ConfigEditor)
  .setQueryEditor(QueryEditor);
