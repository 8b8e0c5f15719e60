package pipeline_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chainwatch/chainwatch/clickhouse"
	"github.com/chainwatch/chainwatch/ingest/pipeline"
	"github.com/chainwatch/chainwatch/local/chserver"
	"github.com/chainwatch/chainwatch/query"
	"github.com/chainwatch/chainwatch/retention"
)

const zookeeperJar = "/usr/share/java/zookeeper.jar" // Debian's zookeeper package

func freePortT(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startZooKeeper runs a standalone ZooKeeper child on a free loopback port.
func startZooKeeper(t *testing.T) int {
	t.Helper()
	if p := os.Getenv("CHAINWATCH_TEST_ZK_PORT"); p != "" { // debugging: a ZooKeeper already running
		var port int
		fmt.Sscan(p, &port)
		return port
	}
	if _, err := os.Stat(zookeeperJar); err != nil {
		if os.Getenv("CHAINWATCH_TEST_ALLOW_SKIP") != "" {
			t.Skip("ZooKeeper not installed (Debian package zookeeper)")
		}
		t.Fatal("ZooKeeper not installed: install Debian's zookeeper package (make deps does)")
	}
	port := freePortT(t)
	cmd := exec.Command("java", "-cp", "/etc/zookeeper/conf:"+zookeeperJar, "-Dzookeeper.admin.enableServer=false",
		"org.apache.zookeeper.server.ZooKeeperServerMain", fmt.Sprint(port), t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	// Listening is not serving: wait for an answer to "srvr" (ClickHouse
	// 18.16 crashes on a handshake ZooKeeper drops while it starts).
	for deadline := time.Now().Add(30 * time.Second); ; {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.SetDeadline(time.Now().Add(2 * time.Second))
			c.Write([]byte("srvr"))
			b, _ := io.ReadAll(c)
			c.Close()
			if strings.Contains(string(b), "Mode: standalone") {
				return port
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("ZooKeeper did not start")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// replica is one ClickHouse 18.16 server of the test cluster "cw": one
// shard, two replicas, ZooKeeper, distributed DDL.
type replica struct {
	cfg chserver.Config
	srv *chserver.Server
}

func startReplicas(t *testing.T, zk int) []*replica {
	t.Helper()
	rs := []*replica{{}, {}}
	for _, r := range rs {
		r.cfg = chserver.Config{DataDir: t.TempDir(), TCPPort: freePortT(t), HTTPPort: freePortT(t)}
	}
	for i, r := range rs {
		xml := fmt.Sprintf(`<?xml version="1.0"?>
<yandex>
  <zookeeper><node><host>127.0.0.1</host><port>%d</port></node></zookeeper>
  <remote_servers><cw><shard><internal_replication>true</internal_replication>
    <replica><host>127.0.0.1</host><port>%d</port></replica>
    <replica><host>127.0.0.1</host><port>%d</port></replica>
  </shard></cw></remote_servers>
  <macros><shard>01</shard><replica>r%d</replica></macros>
  <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <interserver_http_port>%d</interserver_http_port>
</yandex>
`, zk, rs[0].cfg.TCPPort, rs[1].cfg.TCPPort, i+1, freePortT(t))
		os.MkdirAll(filepath.Join(r.cfg.DataDir, "config.d"), 0o755)
		if err := os.WriteFile(filepath.Join(r.cfg.DataDir, "config.d", "cluster.xml"), []byte(xml), 0o644); err != nil {
			t.Fatal(err)
		}
		srv, err := chserver.Start(context.Background(), r.cfg)
		if err != nil {
			t.Fatal(err)
		}
		r.srv = srv
		t.Cleanup(func() { r.srv.Stop() })
	}
	return rs
}

// Cluster mode on a real cluster: two ClickHouse 18.16 replicas of one
// shard with ZooKeeper, all on loopback. The migrator creates every table
// ON CLUSTER (replicated local tables, Distributed tables of the same
// names); the pipeline loads through the Distributed tables; one replica is
// SIGKILLed mid-load and brought back — every span is present exactly once
// through the Distributed table with FINAL, and on both replicas after
// they caught up.
func TestClusterModeReplicaKilledMidLoad(t *testing.T) {
	zk := startZooKeeper(t)
	rs := startReplicas(t, zk)
	chc := clickhouse.Config{Addr: []string{rs[0].srv.Addr()}, Database: "chainwatch", Cluster: "cw"}
	t.Cleanup(func() {
		if t.Failed() {
			for _, r := range rs {
				b, _ := os.ReadFile(filepath.Join(r.cfg.DataDir, "log", "err.log"))
				t.Logf("%s err.log:\n%s", r.cfg.DataDir, tailString(string(b), 3000))
			}
		}
	})
	p := startPipeline(t, pipeline.Options{ClickHouse: chc})
	url := "http://" + p.Collector.HTTPAddr()
	// Every table exists on both replicas, local and distributed.
	for _, r := range rs {
		conn, err := clickhouse.Open(context.Background(), clickhouse.Config{Addr: []string{r.srv.Addr()}, Database: "chainwatch"})
		if err != nil {
			t.Fatal(err)
		}
		var local, dist uint64
		conn.QueryRow(context.Background(), "SELECT countIf(engine LIKE 'Replicated%'), countIf(engine = 'Distributed') FROM system.tables WHERE database = 'chainwatch'").Scan(&local, &dist)
		conn.Close()
		if local < 15 || local != dist {
			t.Fatalf("replica %s: %d replicated and %d distributed tables", r.srv.Addr(), local, dist)
		}
	}
	const requests, perRequest = 20, 50 // spans (traces() makes one span a trace)
	for i := range requests {
		if i == requests/2 {
			rs[1].srv.Kill() // the second replica dies mid-load
		}
		if code := send(t, url, traces(uint64(1000+i), perRequest)); code != 200 {
			t.Fatalf("request %d: status %d", i, code)
		}
	}
	want := uint64(requests * perRequest)
	// Parts inserted on the killed replica before it died reach the other
	// one only when it is back: bring it back, then everything converges.
	time.Sleep(2 * time.Second)
	n, err := rs[1].srv.Restart(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rs[1].srv = n
	waitCount(t, p.Conn, "SELECT count() FROM spans FINAL", want, 90*time.Second)
	for _, r := range rs {
		conn, err := clickhouse.Open(context.Background(), clickhouse.Config{Addr: []string{r.srv.Addr()}, Database: "chainwatch"})
		if err != nil {
			t.Fatal(err)
		}
		// The restarted replica waits for its killed session to expire in
		// ZooKeeper, then fetches what it missed.
		waitCount(t, conn, "SELECT count() FROM spans_local FINAL", want, 120*time.Second)
		if d := count(t, conn, "SELECT count() FROM (SELECT trace_id, span_id FROM spans_local FINAL GROUP BY trace_id, span_id HAVING count() > 1)"); d != 0 {
			t.Errorf("replica %s: %d spans twice", r.srv.Addr(), d)
		}
		conn.Close()
	}
	if u := count(t, p.Conn, "SELECT uniqExact(trace_id, span_id) FROM spans"); u != want {
		t.Errorf("distinct spans through the Distributed table: %d, want %d", u, want)
	}
	// The rollups' checks through the Distributed tables (the buckets
	// closed: three hours on): the series from the rollup is the spans
	// table's, whatever the replica's death left twice in the rollup.
	r := query.NewReader(p.Conn)
	if rep, err := r.CheckRollups(context.Background(), time.Now().Add(3*time.Hour), 0); err != nil || rep.Checks == 0 {
		t.Errorf("checking the rollups on the cluster: %+v, %v", rep, err)
	}
	sel := query.Selector{From: time.Now().Add(-2 * time.Hour).Truncate(time.Hour), To: time.Now().Add(time.Hour).Truncate(time.Hour)}
	for _, g := range []query.Grouping{{Interval: time.Hour}, {Interval: time.Minute, By: []query.Dimension{query.ByApp}}} {
		roll, err1 := r.SpanSeries(context.Background(), sel, g, query.SeriesOptions{Rollup: query.RollupAlways, NoLatency: true})
		raw, err2 := r.SpanSeries(context.Background(), sel, g, query.SeriesOptions{Rollup: query.RollupNever, NoLatency: true})
		if err1 != nil || err2 != nil || !roll.Rollup || fmt.Sprint(roll.Points) != fmt.Sprint(raw.Points) {
			t.Errorf("every %v: rollup (%v, %d buckets from spans, %v) %+v\nspans (%v) %+v", g.Interval, roll.Rollup, roll.BucketsFromSpans, err1, roll.Points, err2, raw.Points)
		}
		t.Logf("every %v: %d points, %d buckets read from spans", g.Interval, len(roll.Points), roll.BucketsFromSpans)
	}
	// Erasure on the cluster: a trace removed from both replicas.
	var victim string
	if err := p.Conn.QueryRow(context.Background(), "SELECT any(trace_id) FROM spans").Scan(&victim); err != nil {
		t.Fatal(err)
	}
	if _, err := retention.Erase(context.Background(), p.Conn, retention.Target{TraceIDs: []string{victim}}, time.Minute, "cw"); err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		conn, err := clickhouse.Open(context.Background(), clickhouse.Config{Addr: []string{r.srv.Addr()}, Database: "chainwatch"})
		if err != nil {
			t.Fatal(err)
		}
		waitCount(t, conn, "SELECT count() FROM spans_local WHERE trace_id = '"+victim+"'", 0, 60*time.Second)
		conn.Close()
	}
}

func tailString(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
