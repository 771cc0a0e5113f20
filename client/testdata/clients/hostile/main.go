// Command hostile is a misbehaving client for `authzcheck client`: the harness must still give a
// verdict in bounded time and memory, stop the whole process tree and keep the secret out of
// every output. -mode picks the misbehaviour:
//
//	hang         never calls anything, and exits on SIGTERM
//	flood        one token, then the API as fast as it goes, up to -rate requests/s (10,000)
//	spew         writes megabytes to stdout and stderr, the client secret among them
//	ignore-term  calls the API slowly and ignores SIGTERM (only SIGKILL stops it)
//	exit         prints the client secret in an error and exits 3 at once
//	orphan       starts a child that ignores SIGTERM and outlives it (same process group)
//	escape       starts a child in a new session (setsid) that ignores SIGTERM
//
// When HOSTILE_STATE_DIR is set, every process of it writes its pid to pid.<pid> there and the
// client ID and secret it was given, a line each, to cred.<pid>, so that a test can check that
// none survives and search every output for the secret.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	mode := flag.String("mode", "", "hang, flood, spew, ignore-term, exit, orphan, escape")
	rate := flag.Int("rate", 10000, "flood: requests per second to aim at")
	flag.Parse()
	record()
	switch *mode {
	case "hang":
		time.Sleep(24 * time.Hour)
	case "flood":
		flood(*rate)
	case "spew":
		spew()
	case "ignore-term":
		signal.Ignore(syscall.SIGTERM)
		for {
			_ = callOnce(http.DefaultClient, bearer())
			time.Sleep(100 * time.Millisecond)
		}
	case "exit":
		fmt.Fprintf(os.Stderr, "fatal: token request for %s with secret %s failed\n",
			os.Getenv("AUTHZ_CLIENT_ID"), os.Getenv("AUTHZ_CLIENT_SECRET"))
		os.Exit(3)
	case "orphan", "escape":
		children(*mode == "escape")
	case "child":
		signal.Ignore(syscall.SIGTERM, syscall.SIGHUP, syscall.SIGINT)
		time.Sleep(24 * time.Hour)
	default:
		fmt.Fprintf(os.Stderr, "-mode %q: want hang, flood, spew, ignore-term, exit, orphan or escape\n", *mode)
		os.Exit(2)
	}
}

// record leaves this process's pid and the secret in HOSTILE_STATE_DIR.
func record() {
	dir := os.Getenv("HOSTILE_STATE_DIR")
	if dir == "" {
		return
	}
	pid := strconv.Itoa(os.Getpid())
	_ = os.WriteFile(filepath.Join(dir, "pid."+pid), []byte(pid), 0o600)
	cred := os.Getenv("AUTHZ_CLIENT_ID") + "\n" + os.Getenv("AUTHZ_CLIENT_SECRET")
	_ = os.WriteFile(filepath.Join(dir, "cred."+pid), []byte(cred), 0o600)
}

// bearer fetches one token the ordinary way, or returns "" when that fails.
func bearer() string {
	req, err := http.NewRequest(http.MethodPost, os.Getenv("AUTHZ_TOKEN_URL"),
		strings.NewReader("grant_type=client_credentials"))
	if err != nil {
		return ""
	}
	req.SetBasicAuth(os.Getenv("AUTHZ_CLIENT_ID"), os.Getenv("AUTHZ_CLIENT_SECRET"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&tr)
	return tr.AccessToken
}

func callOnce(hc *http.Client, tok string) error {
	req, err := http.NewRequest(http.MethodGet, strings.TrimRight(os.Getenv("AUTHZ_API_URL"), "/")+"/products", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

// flood calls the API from 64 goroutines over kept-alive connections, each paced to its share
// of rate, until killed.
func flood(rate int) {
	const workers = 64
	tok := bearer()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = workers
	hc := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	every := time.Second * workers / time.Duration(max(rate, 1))
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			t := time.NewTicker(every)
			for range t.C {
				_ = callOnce(hc, tok)
			}
		})
	}
	wg.Wait()
}

// spew writes about 4 MiB/s to each of stdout and stderr: long lines, a line with no end, and
// the secret raw, base64'd inside a Basic credential, and form-encoded.
func spew() {
	id, secret := os.Getenv("AUTHZ_CLIENT_ID"), os.Getenv("AUTHZ_CLIENT_SECRET")
	leaks := fmt.Sprintf("debug: client_secret=%s Authorization: Basic %s body=client_secret=%s\n", secret,
		base64.StdEncoding.EncodeToString([]byte(id+":"+secret)), url.QueryEscape(secret))
	line := strings.Repeat("x", 64<<10) + "\n"
	noEnd := strings.Repeat("y", 1<<20)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	for i := 0; ctx.Err() == nil; i++ {
		for _, w := range []io.Writer{os.Stdout, os.Stderr} {
			if _, err := io.WriteString(w, leaks+line); err != nil {
				return // the harness closed our output: stop quietly
			}
			if i%16 == 0 {
				_, _ = io.WriteString(w, noEnd)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// children starts a child that ignores SIGTERM, then waits for SIGTERM itself and exits, leaving
// the child behind: in its own process group, or (escape) in a new session of its own.
func children(escape bool) {
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "hostile:", err)
		os.Exit(1)
	}
	cmd := exec.Command(self, "-mode", "child")
	// Like `sleep 1000 &` in a shell: the child holds our stdout and stderr open, so a harness
	// that waits for them to close waits for the child.
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if escape {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "hostile: start child:", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	for ctx.Err() == nil {
		_ = callOnce(http.DefaultClient, bearer())
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
	os.Exit(0) // without waiting for the child
}
