package chains

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chainwatch/chainwatch/clickhouse/chtest"
)

func TestMain(m *testing.M) { os.Exit(chtest.Main(m)) }

func mustParse(t *testing.T, text string) *Chain {
	t.Helper()
	c, err := Parse("test", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Push, list, show, promote (stable and canary), rollback, each recorded
// with who and when, on ClickHouse (18.16 in CI).
func TestStoreVersionsAndLabels(t *testing.T) {
	ctx := context.Background()
	st := NewStore(chtest.Migrated(t))
	v1 := mustParse(t, supportV1)
	v2 := mustParse(t, strings.Replace(supportV1, "version: v1", "version: v2", 1))
	if n, err := st.Push(ctx, v1, "alice"); err != nil || !n {
		t.Fatalf("push v1: new=%v err=%v", n, err)
	}
	if n, err := st.Push(ctx, v1, "alice"); err != nil || n {
		t.Fatalf("second push of v1: new=%v err=%v", n, err)
	}
	// A human version is immutable: other content under v1 is refused.
	changed := mustParse(t, strings.Replace(supportV1, "Let me check.", "Checking.", 1))
	if _, err := st.Push(ctx, changed, "bob"); err == nil || !strings.Contains(err.Error(), "immutable") {
		t.Fatalf("changed v1: %v", err)
	}
	st.now = func() time.Time { return time.Now().Add(2 * time.Second) } // v2 is pushed later
	if _, err := st.Push(ctx, v2, "bob"); err != nil {
		t.Fatal(err)
	}
	vs, err := st.Versions(ctx, "support-bot")
	if err != nil || len(vs) != 2 || vs[0].Hash != v1.Hash() || vs[1].Version != "v2" || vs[0].PushedBy != "alice" {
		t.Fatalf("versions %+v, %v", vs, err)
	}
	if vs[1].Chain.Hash() != v2.Hash() {
		t.Fatal("stored definition hashes differently")
	}
	for _, ref := range []string{"v1", v1.Hash(), v1.Hash()[:6]} {
		if v, err := st.Get(ctx, "support-bot", ref); err != nil || v.Hash != v1.Hash() {
			t.Fatalf("get %q: %v", ref, err)
		}
	}
	if _, err := st.Get(ctx, "support-bot", "v9"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown version: %v", err)
	}
	if _, err := st.Promote(ctx, "support-bot", "v2", "production", 10, "carol"); err == nil || !strings.Contains(err.Error(), "no stable version") {
		t.Fatalf("canary with no stable: %v", err)
	}
	if _, err := st.Promote(ctx, "support-bot", "v1", "production", 0, "carol"); err != nil {
		t.Fatal(err)
	}
	d, err := st.Promote(ctx, "support-bot", "v2", "production", 10, "dave")
	if err != nil || d.Stable != v1.Hash() || d.Canary != v2.Hash() || d.CanaryPercent != 10 {
		t.Fatalf("canary: %+v %v", d, err)
	}
	cur, err := st.Current(ctx, "support-bot", "production")
	if err != nil || cur.Canary != v2.Hash() || cur.Who != "dave" || cur.At.IsZero() {
		t.Fatalf("current %+v %v", cur, err)
	}
	d, err = st.Rollback(ctx, "support-bot", "production", "erin")
	if err != nil || d.Stable != v1.Hash() || d.Canary != "" {
		t.Fatalf("rollback: %+v %v", d, err)
	}
	if _, err := st.Rollback(ctx, "support-bot", "production", "erin"); err == nil {
		t.Fatal("rolled back past the first promote")
	}
	h, _ := st.History(ctx, "support-bot", "production")
	var who []string
	for _, x := range h {
		who = append(who, x.Action+":"+x.Who)
	}
	if strings.Join(who, ",") != "promote:carol,promote:dave,rollback:erin" {
		t.Fatalf("history %v", who)
	}
	if _, err := st.Current(ctx, "support-bot", "staging"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown label: %v", err)
	}
}

// The resolver keeps serving the last good resolution when ClickHouse
// stops answering (here: its connection closed under it).
func TestResolverKeepsLastGood(t *testing.T) {
	ctx := context.Background()
	conn := chtest.Migrated(t)
	st := NewStore(conn)
	v1 := mustParse(t, supportV1)
	st.Push(ctx, v1, "a")
	st.Promote(ctx, "support-bot", "v1", "production", 0, "a")
	r := NewResolver(st, time.Millisecond, nil)
	var stale atomic.Int64
	r.Stale = func() { stale.Add(1) }
	d, err := r.Label(ctx, "support-bot", "production")
	if err != nil || d.Stable != v1.Hash() {
		t.Fatalf("%+v %v", d, err)
	}
	conn.Close()
	deadline := time.Now().Add(5 * time.Second)
	for stale.Load() == 0 {
		time.Sleep(5 * time.Millisecond)
		// Each answer is immediate and the last good one, while the
		// background refresh fails.
		d, err = r.Label(ctx, "support-bot", "production")
		if err != nil || d.Stable != v1.Hash() {
			t.Fatalf("with clickhouse gone: %+v %v", d, err)
		}
		if time.Now().After(deadline) {
			t.Fatal("no failed refresh was reported")
		}
	}
	// A label never resolved has nothing to fall back on.
	if _, err := r.Label(ctx, "support-bot", "staging"); err == nil {
		t.Fatal("resolved a label never seen with clickhouse gone")
	}
}

// The canary gets its share: over many seeds the count is within the
// binomial's 4 standard deviations, and the mean share is exact to 1%.
func TestCanaryPickIsBinomial(t *testing.T) {
	d := Deployment{Stable: "a", Canary: "b", CanaryPercent: 10}
	const n = 2000
	total := 0
	for seed := uint64(0); seed < 50; seed++ {
		r := rand.New(rand.NewPCG(seed, 1))
		k := 0
		for i := 0; i < n; i++ {
			if h, c := d.Pick(r); c != (h == "b") {
				t.Fatal("canary flag and hash disagree")
			} else if c {
				k++
			}
		}
		if sd := math.Sqrt(n * 0.1 * 0.9); math.Abs(float64(k)-n*0.1) > 4*sd {
			t.Fatalf("seed %d: %d canary picks of %d, want 200 ± %.0f", seed, k, n, 4*sd)
		}
		total += k
	}
	if share := float64(total) / (50 * n); math.Abs(share-0.1) > 0.01 {
		t.Fatalf("mean share %v", share)
	}
	if h, c := (Deployment{Stable: "a"}).Pick(nil); h != "a" || c {
		t.Fatal("no canary")
	}
}
