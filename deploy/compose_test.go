// Package deploy holds the deployment's config files (docker-compose.yaml
// at the top level runs them); its test checks the compose file and every
// file it mounts without Docker: loaded with compose-go (the Compose
// specification's reference loader) and each config checked by the tool
// that will read it.
package deploy

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"gopkg.in/yaml.v3"
)

// env is what .env would hold (deploy/env.example).
func env(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("env.example")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(strings.TrimSpace(line), "#") {
			out[k] = v
		}
	}
	return out
}

func load(t *testing.T) *types.Project {
	t.Helper()
	e := env(t)
	var envs []string
	for k, v := range e {
		envs = append(envs, k+"="+v)
	}
	opts, err := cli.NewProjectOptions([]string{"../docker-compose.yaml"}, cli.WithWorkingDirectory(".."), cli.WithEnv(envs), cli.WithName("chainwatch"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("loading docker-compose.yaml: %v", err)
	}
	return p
}

// pinned: an exact version (at least major.minor), never latest.
var pinned = regexp.MustCompile(`:v?\d+\.\d+(\.\d+)*([.-][0-9A-Za-z.-]+)?$|@sha256:[0-9a-f]{64}$`)

// one-shot services: they exit when done; others wait for their success.
var oneShot = map[string]bool{"kafka-topics": true, "migrate": true}

// public: the only services listening beyond loopback.
var public = map[string]bool{"collector": true, "serve": true}

func TestCompose(t *testing.T) {
	p := load(t)
	want := []string{"kafka", "kafka-topics", "clickhouse", "migrate", "collector", "writer", "worker", "evaluator", "serve", "prometheus", "alertmanager", "grafana"}
	for _, name := range want {
		if _, err := p.GetService(name); err != nil {
			t.Errorf("service %s missing", name)
		}
	}
	for name, s := range p.Services {
		switch {
		case oneShot[name]:
			if s.Restart != "on-failure" {
				t.Errorf("%s: a one-shot job must restart on failure (got %q)", name, s.Restart)
			}
		case s.HealthCheck == nil || s.HealthCheck.Disable || len(s.HealthCheck.Test) == 0:
			t.Errorf("%s has no health check", name)
		}
		for dep, d := range s.DependsOn {
			want := types.ServiceConditionHealthy
			if oneShot[dep] {
				want = types.ServiceConditionCompletedSuccessfully
			}
			if d.Condition != want {
				t.Errorf("%s depends on %s with condition %q, want %q", name, dep, d.Condition, want)
			}
		}
		switch {
		case s.Build != nil:
			if strings.HasSuffix(s.Image, ":latest") || !strings.Contains(s.Image, ":") {
				t.Errorf("%s: built image %q must be tagged with a version", name, s.Image)
			}
		case !pinned.MatchString(s.Image):
			t.Errorf("%s: image %q is not pinned to an exact version", name, s.Image)
		}
		for _, port := range s.Ports {
			if !public[name] && port.HostIP != "127.0.0.1" {
				t.Errorf("%s publishes %s on %q: only the collector and the gateway listen beyond loopback", name, port.Published, port.HostIP)
			}
		}
		for _, v := range s.Volumes {
			if v.Type != types.VolumeTypeBind {
				continue
			}
			if _, err := os.Stat(v.Source); err != nil {
				t.Errorf("%s mounts %s, which does not exist: %v", name, v.Source, err)
			}
		}
	}
	// The Dockerfile's base images are pinned too, and the runtime user is not root.
	df, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`(?m)^FROM\s+(\S+)`).FindAllStringSubmatch(string(df), -1) {
		if !pinned.MatchString(m[1]) {
			t.Errorf("Dockerfile: base image %s is not pinned", m[1])
		}
	}
	if !regexp.MustCompile(`(?m)^USER\s+10001`).Match(df) {
		t.Error("Dockerfile: the chainwatch image must run as a non-root user")
	}
}

// Every config the compose file mounts is valid for the program that
// reads it: chainwatch's through `chainwatch config check`, Prometheus' and
// its rules through promtool (rules unit-tested as well), Alertmanager's
// through amtool, ClickHouse's XML parsed, Grafana's provisioning parsed.
func TestMountedConfigs(t *testing.T) {
	e := env(t)
	bin := filepath.Join(t.TempDir(), "chainwatch")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/chainwatch").CombinedOutput(); err != nil {
		t.Fatalf("building chainwatch: %v\n%s", err, out)
	}
	secrets := []string{
		"CHAINWATCH_CLICKHOUSE_PASSWORD=" + e["CLICKHOUSE_APP_PASSWORD"], "CHAINWATCH_COLLECTOR_API_KEYS=" + e["CHAINWATCH_COLLECTOR_API_KEYS"],
		"CHAINWATCH_CLICKHOUSE_WRITER_PASSWORD=" + e["CLICKHOUSE_WRITER_PASSWORD"], "CHAINWATCH_CLICKHOUSE_ADMIN_PASSWORD=" + e["CLICKHOUSE_ADMIN_PASSWORD"],
	}
	for _, args := range [][]string{
		{"config", "check", "-config", "chainwatch/chainwatch.yaml", "-serving", "chainwatch/serving.yaml"},
		{"config", "check", "-config", "chainwatch/writer.yaml"},
		{"config", "check", "-config", "chainwatch/migrate.yaml"},
	} {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), secrets...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("chainwatch %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	// Prometheus resolves rule_files relative to its config: lay them out as
	// the container sees them.
	promDir := t.TempDir()
	copyFile(t, "prometheus/prometheus.yml", filepath.Join(promDir, "prometheus.yml"))
	copyFile(t, "../docs/alerts.rules.yml", filepath.Join(promDir, "rules", "alerts.rules.yml"))
	tool := func(name string, args ...string) {
		t.Helper()
		path, err := exec.LookPath(name)
		if err != nil {
			t.Fatalf("%s not found: install Debian's prometheus and prometheus-alertmanager packages (make deps does)", name)
		}
		if out, err := exec.Command(path, args...).CombinedOutput(); err != nil {
			t.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
	}
	tool("promtool", "check", "config", filepath.Join(promDir, "prometheus.yml"))
	tool("promtool", "test", "rules", "../docs/alerts_test.yml")
	tool("amtool", "check-config", "alertmanager/alertmanager.yml")
	for _, f := range []string{"clickhouse/users.xml", "clickhouse/chainwatch.xml"} {
		if out, err := exec.Command("python3", "-c", "import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])", f).CombinedOutput(); err != nil {
			t.Errorf("%s is not well-formed XML: %v\n%s", f, err, out)
		}
	}
	prov, _ := filepath.Glob("../grafana/provisioning/*/*.yaml")
	if len(prov) < 2 {
		t.Fatalf("grafana provisioning: found %v", prov)
	}
	for _, f := range prov {
		b, _ := os.ReadFile(f)
		var doc map[string]any
		if err := yaml.Unmarshal(b, &doc); err != nil || doc["apiVersion"] == nil {
			t.Errorf("%s: not a Grafana provisioning file: %v", f, err)
		}
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Dir(to), 0o755)
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
