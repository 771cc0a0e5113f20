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
		latency   = flag.Duration("latency", 0, "latency the mock adds to every token answer (steadier latency figures on a busy machine)")
	)
	flag.Parse()
	if err := run(*vegetaBin, *harness, *rate, *duration, *workers, *latency); err != nil {
		fmt.Fprintln(os.Stderr, "benchcmp:", err)
		os.Exit(1)
	}
}

func run(vegetaBin, harness string, rate int, du time.Duration, workers int, latency time.Duration) error {
	opts := []mock.Option{mock.WithPolicy(mock.PolicyCached)}
	if latency > 0 {
		opts = append(opts, mock.WithFaults(mock.Faults{Latency: latency}))
	}
	srv, err := mock.New(opts...)
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
		// Vegeta, harness, harness, Vegeta: drift in the machine's load (other processes, the
		// mock's warm-up) weighs on both alike.
		var vs, hs []*vegeta.Metrics
		for j, who := range []string{"vegeta", "harness", "harness", "vegeta"} {
			if who == "vegeta" {
				vOut := filepath.Join(dir, fmt.Sprintf("vegeta-%d-%d.bin", i, j))
				vArgs := append([]string{"attack", "-format", "json", "-targets", targets, "-rate", ph.rate, "-duration", du.String(),
					"-http2=false", "-output", vOut}, ph.extra...)
				if err := runCmd(nil, vegetaBin, vArgs...); err != nil {
					return fmt.Errorf("vegeta attack: %w", err)
				}
				m, err := metrics(vOut)
				if err != nil {
					return err
				}
				vs = append(vs, m)
				continue
			}
			hOut := filepath.Join(dir, fmt.Sprintf("harness-%d-%d", i, j))
			hArgs := []string{"load", "issuance", "--quiet", "--token-url", srv.TokenURL(), "--client-id", mock.DefaultClientID,
				"--rate", ph.rate, "--duration", du.String(), "--out", hOut}
			for k := 0; k+1 < len(ph.extra); k += 2 {
				hArgs = append(hArgs, "-"+ph.extra[k], ph.extra[k+1])
			}
			if err := runCmd([]string{"AUTHZ_CLIENT_SECRET=" + mock.DefaultClientSecret}, harness, hArgs...); err != nil {
				return fmt.Errorf("authzcheck load: %w", err)
			}
			m, err := metrics(filepath.Join(hOut, "load", "results.bin"))
			if err != nil {
				return err
			}
			hs = append(hs, m)
		}
		fmt.Printf("%s, %s a run, Vegeta/harness/harness/Vegeta:\n", ph.name, du)
		for j, m := range []*vegeta.Metrics{vs[0], hs[0], hs[1], vs[1]} {
			who := []string{"vegeta", "authzcheck", "authzcheck", "vegeta"}[j]
			fmt.Printf("  %-10s requests %7d  rate %8.1f/s  throughput %8.1f/s  success %6.2f%%  p50 %-10s p99 %-10s max %s\n",
				who, m.Requests, m.Rate, m.Throughput, m.Success*100, m.Latencies.P50, m.Latencies.P99, m.Latencies.Max)
		}
		mean := func(ms []*vegeta.Metrics, f func(*vegeta.Metrics) float64) float64 { return (f(ms[0]) + f(ms[1])) / 2 }
		if i == 0 {
			for _, q := range []struct {
				name string
				f    func(*vegeta.Metrics) float64
			}{{"p50", func(m *vegeta.Metrics) float64 { return float64(m.Latencies.P50) }},
				{"p99", func(m *vegeta.Metrics) float64 { return float64(m.Latencies.P99) }}} {
				r := mean(hs, q.f) / mean(vs, q.f)
				verdict := "ok"
				if r > 1.10 || r < 0.90 {
					verdict = "OUTSIDE 10%"
					ok = false
				}
				fmt.Printf("  mean %s harness/vegeta = %.3f (%s)\n", q.name, r, verdict)
			}
		} else {
			r := mean(hs, func(m *vegeta.Metrics) float64 { return m.Throughput }) / mean(vs, func(m *vegeta.Metrics) float64 { return m.Throughput })
			verdict := "ok"
			if r < 0.95 {
				verdict = "BELOW 0.95"
				ok = false
			}
			fmt.Printf("  mean sustained throughput harness/vegeta = %.3f (%s)\n", r, verdict)
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
