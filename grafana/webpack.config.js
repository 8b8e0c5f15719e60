// Builds src/module.ts into dist/module.js (AMD, as Grafana loads
// plugins), with plugin.json, the logo and the README beside it. Grafana
// provides React, its own packages and rxjs at run time: they are
// externals, not bundled. The backend binary (npm run build:backend) lands
// in dist/ too.
const path = require('path');
const CopyWebpackPlugin = require('copy-webpack-plugin');

module.exports = (env) => ({
  mode: env.production ? 'production' : 'development',
  devtool: env.production ? 'source-map' : 'eval-source-map',
  context: path.join(__dirname, 'src'),
  entry: { module: './module.ts' },
  output: {
    path: path.join(__dirname, 'dist'),
    filename: '[name].js',
    library: { type: 'amd' },
    publicPath: 'public/plugins/chainwatch-chainwatch-datasource/',
    clean: { keep: /^gpx_/ },
  },
  externals: ['react', 'react-dom', 'rxjs', 'rxjs/operators', '@emotion/css', '@emotion/react', /^@grafana\/(data|ui|runtime|schema)/],
  resolve: { extensions: ['.ts', '.tsx', '.js'] },
  module: {
    rules: [
      {
        test: /\.[tj]sx?$/,
        exclude: /node_modules/,
        use: { loader: 'swc-loader', options: { jsc: { target: 'es2020', parser: { syntax: 'typescript', tsx: true }, transform: { react: { runtime: 'classic' } } } } },
      },
    ],
  },
  plugins: [
    new CopyWebpackPlugin({
      patterns: [
        { from: 'plugin.json', to: '.' },
        { from: 'img', to: 'img' },
        { from: '../README.md', to: '.' },
      ],
    }),
  ],
});
