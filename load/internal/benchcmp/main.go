// Command benchcmp runs the Vegeta command line and `authzcheck load issuance` against one
// embedded mock (cached policy) and compares them (`make bench-load` runs it):
//
//   - Latency: both run side by side, at the same fixed rate at the same time, so that both see the
//     same machine; their p50 and p99 must agree within 10%. (Run one after the other, two runs of
//     the same tool differ by 15% at sub-millisecond latencies on a shared VM: the machine drifts.)
//   - Throughput: each runs alone, as fast as possible with the same worker limit, in rounds of
//     Vegeta/harness/harness/Vegeta; the harness's mean must be at least 0.95x Vegeta's.
//
// Both results files are summarised by the same code (Vegeta's Metrics), so only the generators
// differ.
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
	var b bench
	flag.StringVar(&b.vegeta, "vegeta", "vegeta", "the Vegeta command line")
	flag.StringVar(&b.harness, "authzcheck", "bin/authzcheck", "the authzcheck binary")
	rate := flag.Int("rate", 500, "fixed rate for the latency comparison, per second")
	flag.DurationVar(&b.duration, "duration", 10*time.Second, "length of each run")
	workers := flag.Int("max-workers", 16, "worker limit for the as-fast-as-possible runs")
	latency := flag.Duration("latency", 0, "latency the mock adds to every token answer")
	rounds := flag.Int("rounds", 2, "rounds per comparison: side-by-side pairs are 2x this, throughput runs 4x")
	flag.Parse()
	if *rounds < 1 || *rate < 1 || *workers < 1 || b.duration <= 0 {
		fmt.Fprintln(os.Stderr, "benchcmp: -rounds, -rate, -max-workers and -duration must be positive")
		os.Exit(2)
	}
	if err := b.run(*rate, *workers, *latency, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, "benchcmp:", err)
		os.Exit(1)
	}
}

type bench struct {
	vegeta, harness string
	duration        time.Duration
	dir, targets    string
	tokenURL        string
	n               int // runs so far, for file names
}

func (b *bench) run(rate, workers int, latency time.Duration, rounds int) error {
	opts := []mock.Option{mock.WithPolicy(mock.PolicyCached)}
	if latency > 0 {
		opts = append(opts, mock.WithFaults(mock.Faults{Latency: latency}))
	}
	srv, err := mock.New(opts...)
	if err != nil {
		return err
	}
	defer srv.Close()
	b.tokenURL = srv.TokenURL()
	if b.dir, err = os.MkdirTemp("", "benchcmp"); err != nil {
		return err
	}
	defer os.RemoveAll(b.dir)

	basic := base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(mock.DefaultClientID) + ":" + url.QueryEscape(mock.DefaultClientSecret)))
	tgt, _ := json.Marshal(map[string]any{"method": "POST", "url": b.tokenURL,
		"body": base64.StdEncoding.EncodeToString([]byte("grant_type=client_credentials")),
		"header": map[string][]string{"Authorization": {"Basic " + basic},
			"Content-Type": {"application/x-www-form-urlencoded"}, "Accept": {"application/json"}}})
	b.targets = filepath.Join(b.dir, "targets.json")
	if err := os.WriteFile(b.targets, append(tgt, '\n'), 0o600); err != nil {
		return err
	}

	ok := true
	// Latency, side by side.
	fmt.Printf("fixed rate %d/s each, side by side, %s a run, %d pairs:\n", rate, b.duration, 2*rounds)
	var vs, hs []*vegeta.Metrics
	for i := 0; i < 2*rounds; i++ {
		v, h, err := b.pair(fmt.Sprint(rate), i%2 == 1)
		if err != nil {
			return err
		}
		vs, hs = append(vs, v), append(hs, h)
	}
	for _, q := range []struct {
		name string
		f    func(*vegeta.Metrics) float64
	}{{"p50", func(m *vegeta.Metrics) float64 { return float64(m.Latencies.P50) }},
		{"p99", func(m *vegeta.Metrics) float64 { return float64(m.Latencies.P99) }}} {
		r := mean(hs, q.f) / mean(vs, q.f)
		verdict := "ok"
		if r > 1.10 || r < 0.90 {
			verdict, ok = "OUTSIDE 10%", false
		}
		fmt.Printf("  mean %s harness/vegeta = %.3f (%s)\n", q.name, r, verdict)
	}

	// Throughput, alone: rounds of Vegeta, harness, harness, Vegeta, so that drift in the machine's
	// load (other processes, the mock's warm-up) weighs on both alike.
	fmt.Printf("as fast as possible, %d workers, alone, %s a run, %d rounds of Vegeta/harness/harness/Vegeta:\n", workers, b.duration, rounds)
	vs, hs = nil, nil
	extra := []string{"max-workers", fmt.Sprint(workers)}
	for j := 0; j < 4*rounds; j++ {
		var cmd *exec.Cmd
		var out string
		vegetaTurn := j%4 == 0 || j%4 == 3
		if vegetaTurn {
			cmd, out = b.vegetaCmd("0", extra...)
		} else {
			cmd, out = b.harnessCmd("0", extra...)
		}
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s: %w", cmd.Path, err)
		}
		m, err := metrics(out)
		if err != nil {
			return err
		}
		if vegetaTurn {
			vs = append(vs, m)
			printRun("vegeta", m)
		} else {
			hs = append(hs, m)
			printRun("authzcheck", m)
		}
	}
	r := mean(hs, func(m *vegeta.Metrics) float64 { return m.Throughput }) / mean(vs, func(m *vegeta.Metrics) float64 { return m.Throughput })
	verdict := "ok"
	if r < 0.95 {
		verdict, ok = "BELOW 0.95", false
	}
	fmt.Printf("  mean sustained throughput harness/vegeta = %.3f (%s)\n", r, verdict)
	if !ok {
		return errors.New("the harness and the Vegeta command line disagree beyond the bounds")
	}
	return nil
}

// pair runs Vegeta and the harness at the same time, at the same rate, against the mock.
func (b *bench) pair(rate string, harnessFirst bool) (*vegeta.Metrics, *vegeta.Metrics, error) {
	vc, vOut := b.vegetaCmd(rate)
	hc, hOut := b.harnessCmd(rate)
	cmds := []*exec.Cmd{vc, hc}
	if harnessFirst {
		cmds[0], cmds[1] = hc, vc
	}
	for i, c := range cmds {
		if err := c.Start(); err != nil {
			if i == 1 {
				cmds[0].Process.Kill()
				cmds[0].Wait()
			}
			return nil, nil, fmt.Errorf("%s: %w", c.Path, err)
		}
	}
	var errs []error
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.Path, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	v, err := metrics(vOut)
	if err != nil {
		return nil, nil, err
	}
	h, err := metrics(hOut)
	if err != nil {
		return nil, nil, err
	}
	printRun("vegeta", v)
	printRun("authzcheck", h)
	return v, h, nil
}

// vegetaCmd is a `vegeta attack` of the token request and the results file it writes; extra
// holds flag name and value pairs.
func (b *bench) vegetaCmd(rate string, extra ...string) (*exec.Cmd, string) {
	b.n++
	out := filepath.Join(b.dir, fmt.Sprintf("vegeta-%d.bin", b.n))
	args := []string{"attack", "-format", "json", "-targets", b.targets, "-rate", rate, "-duration", b.duration.String(),
		"-http2=false", "-output", out}
	for k := 0; k+1 < len(extra); k += 2 {
		args = append(args, "-"+extra[k], extra[k+1])
	}
	return command(nil, b.vegeta, args...), out
}

// harnessCmd is an `authzcheck load issuance` run and the results file it writes.
func (b *bench) harnessCmd(rate string, extra ...string) (*exec.Cmd, string) {
	b.n++
	out := filepath.Join(b.dir, fmt.Sprintf("harness-%d", b.n))
	args := []string{"load", "issuance", "--quiet", "--token-url", b.tokenURL, "--client-id", mock.DefaultClientID,
		"--rate", rate, "--duration", b.duration.String(), "--out", out}
	for k := 0; k+1 < len(extra); k += 2 {
		args = append(args, "--"+extra[k], extra[k+1])
	}
	return command([]string{"AUTHZ_CLIENT_SECRET=" + mock.DefaultClientSecret}, b.harness, args...), filepath.Join(out, "load", "results.bin")
}

func command(env []string, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	return cmd
}

func printRun(who string, m *vegeta.Metrics) {
	fmt.Printf("  %-10s requests %7d  rate %8.1f/s  throughput %8.1f/s  success %6.2f%%  p50 %-10s p99 %-10s max %s\n",
		who, m.Requests, m.Rate, m.Throughput, m.Success*100, m.Latencies.P50, m.Latencies.P99, m.Latencies.Max)
}

func mean(ms []*vegeta.Metrics, f func(*vegeta.Metrics) float64) float64 {
	sum := 0.0
	for _, m := range ms {
		sum += f(m)
	}
	return sum / float64(len(ms))
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
