package steps

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/authzcheck/authzcheck/internal/redact"
)

// The token store (Config.TokenStore, --token-store) keeps tokens the harness obtained between
// runs, so that a later run can present one that has expired by now: BEARER-11 then runs
// against any server, not only the embedded mock whose control API mints expired tokens. A file
// holds one access token and when it expires, never a client secret; it is written with mode
// 0600 in a directory of mode 0700 outside the evidence bundle, and the bundle names the token
// only by its fingerprint.

// storeGrace is how long after its expiry a stored token is presented as expired: a server
// whose clock runs a little behind the harness's may still honour it just after.
const storeGrace = 2 * time.Minute

// storedToken is one file of the store.
type storedToken struct {
	TokenURL string    `json:"token_url"`
	ClientID string    `json:"client_id"`
	Token    string    `json:"access_token"`
	Obtained time.Time `json:"obtained"`
	Expires  time.Time `json:"expires"`
}

// tokenStore is an opened store; it keeps one token a run (the run's first for its client).
type tokenStore struct {
	dir      string
	tokenURL string
	clientID string

	mu   sync.Mutex
	kept bool
}

// openTokenStore creates dir (mode 0700) when missing and refuses a store that other users may
// read or that overlaps the evidence directory outDir (its files would enter the bundle).
func openTokenStore(dir, outDir, tokenURL, clientID string) (*tokenStore, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("token store %s: %v", dir, err)
	}
	out, err := filepath.Abs(outDir)
	if err != nil {
		return nil, fmt.Errorf("output directory %s: %v", outDir, err)
	}
	if within(abs, out) || within(out, abs) {
		return nil, fmt.Errorf("token store %s overlaps the evidence directory %s: give a directory outside it, so that no token enters the bundle", dir, outDir)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("token store: %v", err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("token store: %v", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("token store %s is not a directory", dir)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("token store %s is open to other users (mode %04o): run chmod 700 on it", dir, fi.Mode().Perm())
	}
	return &tokenStore{dir: abs, tokenURL: tokenURL, clientID: clientID}, nil
}

// within reports whether path is dir or inside it.
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// tokens reads the store's tokens for this token URL and client; a file that is not one of the
// store's is passed over.
func (ts *tokenStore) tokens() []storedToken {
	names, _ := filepath.Glob(filepath.Join(ts.dir, "*.json"))
	var out []storedToken
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			continue
		}
		var t storedToken
		if json.Unmarshal(b, &t) != nil || t.Token == "" || t.Expires.IsZero() {
			continue
		}
		if t.TokenURL == ts.tokenURL && t.ClientID == ts.clientID {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Expires.Before(out[j].Expires) })
	return out
}

// expired returns the stored token that expired most recently, at least storeGrace before now,
// or why there is none.
func (ts *tokenStore) expired(now time.Time) (storedToken, string) {
	all := ts.tokens()
	for i := len(all) - 1; i >= 0; i-- {
		if all[i].Expires.Add(storeGrace).Before(now) {
			return all[i], ""
		}
	}
	if len(all) == 0 {
		return storedToken{}, fmt.Sprintf("needs an expired token: --token-store %s holds no token of this client and token URL yet; this run keeps one, so run again with the same --token-store after it expires", ts.dir)
	}
	return storedToken{}, fmt.Sprintf("needs an expired token: the earliest token in --token-store %s expires at %s; run again with the same --token-store after %s",
		ts.dir, all[0].Expires.UTC().Format(time.RFC3339), all[0].Expires.Add(storeGrace).UTC().Format(time.RFC3339))
}

// keep stores the run's first token of the client, with when it expires (the JWT's exp, else
// obtained plus expires_in); a token whose expiry is unknown is not kept. Only the first call
// that has such a token writes.
func (ts *tokenStore) keep(ex *exchange, obtained time.Time) error {
	tok, ok := ex.accessToken()
	if !ok || tok == "" {
		return nil
	}
	expires, ok := expiryOf(ex, tok, obtained)
	if !ok {
		return nil
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.kept {
		return nil
	}
	ts.kept = true
	b, err := json.MarshalIndent(storedToken{TokenURL: ts.tokenURL, ClientID: ts.clientID, Token: tok,
		Obtained: obtained.UTC(), Expires: expires.UTC()}, "", "  ")
	if err != nil {
		return err
	}
	// Written whole under a temporary name (CreateTemp: mode 0600), then renamed: a reader never
	// sees half a file.
	f, err := os.CreateTemp(ts.dir, ".token-*")
	if err != nil {
		return fmt.Errorf("token store: %v", err)
	}
	_, werr := f.Write(append(b, '\n'))
	cerr := f.Close()
	name := filepath.Join(ts.dir, strings.TrimPrefix(redact.Fingerprint(tok), "sha256:")+".json")
	if err := errors.Join(werr, cerr); err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("token store: %v", err)
	}
	if err := os.Rename(f.Name(), name); err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("token store: %v", err)
	}
	return nil
}

// expiryOf is when a token answer's token expires: its JWT exp claim, else obtained plus the
// answer's expires_in (a number, or a string of one).
func expiryOf(ex *exchange, tok string, obtained time.Time) (time.Time, bool) {
	if p, err := parseJWT(tok, false); err == nil {
		if exp, ok := num(p.claims["exp"]); ok {
			return time.Unix(int64(exp), 0), true
		}
	}
	secs, ok := num(ex.obj["expires_in"])
	if s, isText := ex.obj["expires_in"].(string); isText {
		f, err := strconv.ParseFloat(s, 64)
		secs, ok = f, err == nil
	}
	if !ok || secs <= 0 {
		return time.Time{}, false
	}
	return obtained.Add(time.Duration(secs * float64(time.Second))), true
}
