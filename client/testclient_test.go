package client

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The test binary is also the client under test: run with testClientVar set it behaves as one
// of the small clients below (a real process, started by the harness like any COMMAND).
const testClientVar = "AUTHZCHECK_TEST_CLIENT"

func TestMain(m *testing.M) {
	if mode := os.Getenv(testClientVar); mode != "" {
		os.Exit(testClient(mode))
	}
	os.Exit(m.Run())
}

// testCommand is the COMMAND that runs this test binary as the client of the given mode.
func testCommand(t *testing.T, mode string) ([]string, []string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return []string{exe, "-test.run=^$"}, append(os.Environ(), testClientVar+"="+mode)
}

// tokenSource is the test client's cache: one fetch at a time, refreshed at 80% of expires_in.
type tokenSource struct {
	mode     string
	hc       *http.Client
	mu       sync.Mutex
	tok      string
	until    time.Time
	notUntil time.Time // Retry-After / backoff
	backoff  time.Duration
}

// token returns the cached token, or fetches one; stale is a token the API rejected (another
// worker may have replaced it already).
func (s *tokenSource) token(stale string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// A client that hard-codes 28800 s trusts its token for 8 hours, 401 or not.
	force := stale != "" && s.tok == stale && s.mode != "hardcoded"
	if s.mode == "per-call" {
		force = true
	}
	if !force && s.tok != "" && time.Now().Before(s.until) {
		return s.tok, nil
	}
	if d := time.Until(s.notUntil); d > 0 {
		time.Sleep(d)
	}
	id, secret := os.Getenv("AUTHZ_CLIENT_ID"), os.Getenv("AUTHZ_CLIENT_SECRET")
	req, _ := http.NewRequest(http.MethodPost, os.Getenv("AUTHZ_TOKEN_URL"), strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := s.hc.Do(req)
	if err != nil {
		s.notUntil = time.Now().Add(500 * time.Millisecond)
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
			s.notUntil = time.Now().Add(time.Duration(ra) * time.Second)
		} else {
			s.backoff = min(max(2*s.backoff, 250*time.Millisecond), 2*time.Second)
			s.notUntil = time.Now().Add(s.backoff)
		}
		return "", fmt.Errorf("token endpoint: %s", resp.Status)
	}
	s.backoff = 0
	var tr struct {
		AccessToken string          `json:"access_token"`
		ExpiresIn   json.RawMessage `json:"expires_in"`
	}
	if err := json.Unmarshal(b, &tr); err != nil {
		return "", err
	}
	secs, err := strconv.ParseFloat(strings.Trim(string(tr.ExpiresIn), `"`), 64)
	if err != nil {
		return "", err
	}
	if s.mode == "hardcoded" {
		secs = 28800
	}
	s.tok, s.until = tr.AccessToken, time.Now().Add(time.Duration(secs*0.8*float64(time.Second)))
	return s.tok, nil
}

// testClient runs a client until SIGTERM: "good"; "per-call" (a token fetch per API call);
// "hardcoded" (28800 s whatever expires_in says); "exit" (at once, printing its secret); "hang"
// (ignores SIGTERM, prints its secret).
func testClient(mode string) int {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM)
	switch mode {
	case "exit":
		fmt.Fprintln(os.Stderr, "cannot start: secret is", os.Getenv("AUTHZ_CLIENT_SECRET"))
		return 4
	case "noisy":
		// Megabytes on both streams, the secret in every line, until stopped.
		line := strings.Repeat("x", 200) + " secret=" + os.Getenv("AUTHZ_CLIENT_SECRET") + "\n"
		for {
			select {
			case <-stop:
				return 0
			default:
				fmt.Print(line)
				fmt.Fprint(os.Stderr, line)
			}
		}
	case "flood":
		// As many API calls as 64 workers can make, one token, no pause.
		hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
		ts := &tokenSource{mode: mode, hc: hc}
		for w := 0; w < 64; w++ {
			go func() {
				for {
					tok, err := ts.token("")
					if err != nil {
						time.Sleep(10 * time.Millisecond)
						continue
					}
					req, _ := http.NewRequest(http.MethodGet, os.Getenv("AUTHZ_API_URL")+"/products", nil)
					req.Header.Set("Authorization", "Bearer "+tok)
					if resp, err := hc.Do(req); err == nil {
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
				}
			}()
		}
		<-stop
		return 0
	case "hang":
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("hanging; secret", os.Getenv("AUTHZ_CLIENT_SECRET"))
		select {}
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	ts := &tokenSource{mode: mode, hc: hc}
	api := os.Getenv("AUTHZ_API_URL")
	var n sync.Mutex
	seq := 0
	call := func(tok string) (int, error) {
		n.Lock()
		seq++
		id := strconv.Itoa(os.Getpid()) + "-" + strconv.Itoa(seq)
		n.Unlock()
		req, _ := http.NewRequest(http.MethodGet, api+"/products", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("echo-token", id)
		req.Header.Set("distributor-id", "DIST")
		resp, err := hc.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	done := make(chan struct{})
	for w := 0; w < 2; w++ {
		go func() {
			fails := 0
			for {
				select {
				case <-done:
					return
				default:
				}
				pause := 50 * time.Millisecond
				tok, err := ts.token("")
				if err == nil {
					if st, _ := call(tok); st == http.StatusUnauthorized {
						if tok, err = ts.token(tok); err == nil {
							if st, _ := call(tok); st == http.StatusUnauthorized {
								fails++
								pause = min(250*time.Millisecond<<min(fails, 3), 2*time.Second)
							} else {
								fails = 0
							}
						}
					}
				}
				time.Sleep(pause)
			}
		}()
	}
	<-stop
	close(done)
	return 0
}
