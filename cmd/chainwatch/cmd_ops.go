package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"time"

	"github.com/chainwatch/chainwatch/kafka"
	"github.com/chainwatch/chainwatch/serving"
)

// Small commands for deployments: checking configs before they are used,
// creating the Kafka topics once, and a health probe for containers whose
// image has no curl.

// runConfig is `chainwatch config check [-config F] [-serving F]`: loads
// and validates the files exactly as the services will, and says what is
// wrong, by key.
func runConfig(_ context.Context, args []string) error {
	if len(args) == 0 || args[0] != "check" {
		return errors.New("usage: chainwatch config check [-config FILE] [-serving FILE]")
	}
	fs := flag.NewFlagSet("config check", flag.ContinueOnError)
	load := commonFlags(fs)
	servingPath := fs.String("serving", "", "also check this serving gateway config")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if _, err := load(); err != nil {
		return err
	}
	if *servingPath != "" {
		if _, err := serving.LoadConfig(*servingPath); err != nil {
			return fmt.Errorf("%s: %w", *servingPath, err)
		}
	}
	fmt.Println("config ok")
	return nil
}

// runTopics creates the Kafka topics the config names (partitions and
// retention from the kafka section) and leaves existing ones as they are:
// the one-shot topic job of a deployment.
func runTopics(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("topics", flag.ContinueOnError)
	load := commonFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	kc := cfg.Kafka.WithDefaults()
	if len(kc.Brokers) == 0 {
		return errors.New("kafka.brokers is empty: topics are created on a real Kafka (up creates its own)")
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := kafka.EnsureTopics(ctx, kc); err != nil {
		return err
	}
	t := kc.Topics
	fmt.Printf("topics ready: %s %s %s %s %s (%d partitions for new ones)\n", t.Spans, t.Logs, t.Feedback, t.Scores, t.DeadLetter, kc.Partitions)
	return nil
}

// runHealth is `chainwatch health URL`: exit 0 when URL answers 200 within
// 3 s (a container health check).
func runHealth(ctx context.Context, args []string) error {
	if len(args) != 1 {
		return errors.New("usage: chainwatch health URL")
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, args[0], nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s", args[0], resp.Status)
	}
	return nil
}
