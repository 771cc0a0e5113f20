// Command benchcmp runs the Vegeta command line and `authzcheck load issuance` side by side
// against one embedded mock (cached policy) and compares them: p50 and p99 at a fixed rate
// (within 10%) and the highest sustained rate, as fast as possible with the same worker limit
// (the harness at least 0.95x Vegeta's). Both results files are summarised by the same code
// (Vegeta's Metrics), so only the generators differ. `make bench-load` runs it.
package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/authzcheck/authzcheck/mock"
)

func main() {
	var (
		vegetaBin = flag.String("vegeta", "vegeta", "the Vegeta command line")
		harness   = flag.String("authzcheck", "bin/authzcheck", "the authzcheck binary")
		rate      = flag.Int("rate", 500, "fixed rate for the latency comparison, per second")
		duration  = flag.Duration("duration", 10*time.Second, "length of each run")
		workers   = flag.Int("max-workers", 16, "worker limit for the as-fast-as-possible runs")
	)
	flag.Parse()
	if err := run(*vegetaBin, *harness, *rate, *duration, *workers); err != nil {
		fmt.Fprintln(os.Stderr, "benchcmp:", err)
		os.Exit(1)
	}
}

func run(vegetaBin, harness string, rate int, du time.Duration, workers int) error {
	srv, err := mock.New(mock.WithPolicy(mock.PolicyCached))
	if err != nil {
		return err
	}
	defer srv.Close()
	dir, err := os.MkdirTemp("", "benchcmp")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	basic := base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(mock.DefaultClientID) + ":" + url.QueryEscape(mock.DefaultClientSecret)))
	tgt, _ := json.Marshal(map[string]any{"method": "POST", "url": srv.TokenURL(),
		"body": base64.StdEncoding.EncodeToString([]byte("grant_type=client_credentials")),
		"header": map[string][]string{"Authorization": {"Basic " + basic},
			"Content-Type": {"application/x-www-form-urlencoded"}, "Accept": {"application/json"}}})
	targets := filepath.Join(dir, "targets.json")
	if err := os.WriteFile(targets, append(tgt, '\n'), 0o600); err != nil {
		return err
	}

	type phase struct {
		name  string
		rate  string
		extra []string
	}
	phases := []phase{
		{"fixed rate " + fmt.Sprint(rate) + "/s", fmt.Sprint(rate), nil},
		{"as fast as possible, " + fmt.Sprint(workers) + " workers", "0", []string{"-max-workers", fmt.Sprint(workers)}},
	}
	ok := true
	for i, ph := range phases {
		vOut := filepath.Join(dir, fmt.Sprintf("vegeta-%d.bin", i))
		vArgs := append([]string{"attack", "-format", "json", "-targets", targets, "-rate", ph.rate, "-duration", du.String(),
			"-http2=false", "-output", vOut}, ph.extra...)
		if err := runCmd(nil, vegetaBin, vArgs...); err != nil {
			return fmt.Errorf("vegeta attack: %w", err)
		}
		hOut := filepath.Join(dir, fmt.Sprintf("harness-%d", i))
		hArgs := []string{"load", "issuance", "--quiet", "--token-url", srv.TokenURL(), "--client-id", mock.DefaultClientID,
			"--rate", ph.rate, "--duration", du.String(), "--out", hOut}
		for j := 0; j+1 < len(ph.extra); j += 2 {
			hArgs = append(hArgs, "-"+ph.extra[j], ph.extra[j+1])
		}
		if err := runCmd([]string{"AUTHZ_CLIENT_SECRET=" + mock.DefaultClientSecret}, harness, hArgs...); err != nil {
			return fmt.Errorf("authzcheck load: %w", err)
		}
		v, err := metrics(vOut)
		if err != nil {
			return err
		}
		h, err := metrics(filepath.Join(hOut, "load", "results.bin"))
		if err != nil {
			return err
		}
		fmt.Printf("%s, %s each:\n", ph.name, du)
		fmt.Printf("  %-10s requests %7d  rate %8.1f/s  throughput %8.1f/s  success %6.2f%%  p50 %-10s p99 %-10s max %s\n",
			"vegeta", v.Requests, v.Rate, v.Throughput, v.Success*100, v.Latencies.P50, v.Latencies.P99, v.Latencies.Max)
		fmt.Printf("  %-10s requests %7d  rate %8.1f/s  throughput %8.1f/s  success %6.2f%%  p50 %-10s p99 %-10s max %s\n",
			"authzcheck", h.Requests, h.Rate, h.Throughput, h.Success*100, h.Latencies.P50, h.Latencies.P99, h.Latencies.Max)
		if i == 0 {
			for _, q := range []struct {
				name string
				v, h time.Duration
			}{{"p50", v.Latencies.P50, h.Latencies.P50}, {"p99", v.Latencies.P99, h.Latencies.P99}} {
				r := float64(q.h) / float64(q.v)
				verdict := "ok"
				if r > 1.10 || r < 0.90 {
					verdict = "OUTSIDE 10%"
					ok = false
				}
				fmt.Printf("  %s harness/vegeta = %.3f (%s)\n", q.name, r, verdict)
			}
		} else {
			r := h.Throughput / v.Throughput
			verdict := "ok"
			if r < 0.95 {
				verdict = "BELOW 0.95"
				ok = false
			}
			fmt.Printf("  sustained throughput harness/vegeta = %.3f (%s)\n", r, verdict)
		}
	}
	if !ok {
		return errors.New("the harness and the Vegeta command line disagree beyond the bounds")
	}
	return nil
}

func runCmd(env []string, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	return cmd.Run()
}

// metrics computes Vegeta's metrics over a results file, as `vegeta report` does.
func metrics(path string) (*vegeta.Metrics, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dec := vegeta.NewDecoder(f)
	var m vegeta.Metrics
	for {
		var r vegeta.Result
		if err := dec.Decode(&r); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		m.Add(&r)
	}
	m.Close()
	return &m, nil
}
