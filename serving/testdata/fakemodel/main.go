// Command fakemodel is a stand-in model server for the process supervision
// tests: it checks that it got the port and GPUs it was told to expect
// (exiting with status 3 otherwise), serves an OpenAI-compatible
// /v1/models and /v1/chat/completions whose answer names its pid and
// CUDA_VISIBLE_DEVICES, and with -nvidia-smi runs `nvidia-smi -L` at start
// and reports what it lists.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

func main() {
	port := flag.Int("port", 0, "port to listen on")
	wantGPUs := flag.String("want-gpus", "", "CUDA_VISIBLE_DEVICES this process must see")
	smi := flag.Bool("nvidia-smi", false, "run nvidia-smi -L and report its GPUs")
	delay := flag.Duration("delay", 0, "hold each chat answer this long")
	flag.Parse()
	if got := os.Getenv("CUDA_VISIBLE_DEVICES"); got != *wantGPUs {
		fmt.Fprintf(os.Stderr, "fakemodel: CUDA_VISIBLE_DEVICES=%q, want %q\n", got, *wantGPUs)
		os.Exit(3)
	}
	if os.Getenv("PORT") != strconv.Itoa(*port) {
		fmt.Fprintf(os.Stderr, "fakemodel: PORT=%q but -port %d\n", os.Getenv("PORT"), *port)
		os.Exit(3)
	}
	var gpus []string
	if *smi {
		out, err := exec.Command("nvidia-smi", "-L").CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "fakemodel: nvidia-smi -L: %v: %s\n", err, out)
			os.Exit(4)
		}
		for _, l := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(l, "GPU ") {
				gpus = append(gpus, l)
			}
		}
	}
	me := fmt.Sprintf("pid=%d gpus=%s", os.Getpid(), os.Getenv("CUDA_VISIBLE_DEVICES"))
	http.HandleFunc("/v1/models", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": []any{map[string]string{"id": "fake", "object": "model"}}, "nvidia_smi": gpus})
	})
	http.HandleFunc("/v1/chat/completions", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(*delay)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"id": "x", "object": "chat.completion", "model": "fake",
			"choices": []any{map[string]any{"index": 0, "message": map[string]any{"role": "assistant", "content": me}, "finish_reason": "stop"}},
			"usage":   map[string]int{"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})
	})
	if err := http.ListenAndServe("127.0.0.1:"+strconv.Itoa(*port), nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
