package lifecycle

import (
	"context"
	"errors"
	"strings"
	"testing"
)

type fake struct {
	name     string
	startErr error
	stopErr  error
	log      *[]string
}

func (f fake) Start(context.Context) error {
	*f.log = append(*f.log, "start "+f.name)
	return f.startErr
}

func (f fake) Shutdown(context.Context) error {
	*f.log = append(*f.log, "stop "+f.name)
	return f.stopErr
}

// A failure halfway stops what had started, in reverse, and nothing else.
func TestStartFailureStopsWhatStarted(t *testing.T) {
	var log []string
	var g Group
	ctx := context.Background()
	for _, f := range []fake{{name: "a", log: &log}, {name: "b", log: &log}} {
		if err := g.Start(ctx, f.name, f); err != nil {
			t.Fatal(err)
		}
	}
	g.Started("c", func(context.Context) error { log = append(log, "stop c"); return nil })
	err := g.Start(ctx, "d", fake{name: "d", startErr: errors.New("no port"), log: &log})
	if err == nil || !strings.Contains(err.Error(), "starting d: no port") {
		t.Fatalf("err = %v", err)
	}
	if err := g.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	want := "start a,start b,start d,stop c,stop b,stop a"
	if got := strings.Join(log, ","); got != want {
		t.Fatalf("order %s, want %s", got, want)
	}
	if err := g.Shutdown(ctx); err != nil || len(log) != 6 {
		t.Fatalf("a second Shutdown must do nothing: %v %v", err, log)
	}
}

// Every component is asked to stop even when one fails to; the errors
// name them.
func TestShutdownJoinsErrors(t *testing.T) {
	var log []string
	var g Group
	ctx := context.Background()
	g.Start(ctx, "a", fake{name: "a", stopErr: errors.New("stuck"), log: &log})
	g.Start(ctx, "b", fake{name: "b", log: &log})
	err := g.Shutdown(ctx)
	if err == nil || !strings.Contains(err.Error(), "stopping a: stuck") || log[len(log)-1] != "stop a" {
		t.Fatalf("err %v, log %v", err, log)
	}
}
