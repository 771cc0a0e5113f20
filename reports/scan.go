package reports

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"

	"github.com/authzcheck/authzcheck/internal/redact"
)

// ErrUnredacted is returned by Finalize when a file of the bundle holds a secret or a signed
// JWT: redaction at the source failed, and the bundle is not sealed.
var ErrUnredacted = errors.New("unredacted evidence")

// signedJWTRe matches a compact JWS whose header and payload are JSON objects ("eyJ") and whose
// signature segment is long enough to be a real signature: a token someone could replay.
// Unsigned ("alg":"none") tokens, fingerprints and decoded claims do not match.
var signedJWTRe = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{22,}`)

// secretForms returns every encoding in which a secret can travel: raw, form- and
// percent-encoded, base64, and inside a Basic credential with the client ID.
func secretForms(clientID string, secrets []string) [][]byte {
	var out [][]byte
	add := func(s string) {
		if s == "" {
			return
		}
		for _, f := range out {
			if string(f) == s {
				return
			}
		}
		out = append(out, []byte(s))
	}
	for _, s := range secrets {
		if s == "" {
			continue
		}
		add(s)
		add(url.QueryEscape(s))
		add(url.PathEscape(s))
		add(base64.StdEncoding.EncodeToString([]byte(s)))
		add(base64.RawURLEncoding.EncodeToString([]byte(s)))
		if clientID != "" {
			add(base64.StdEncoding.EncodeToString([]byte(clientID + ":" + s)))
			add(base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(clientID) + ":" + url.QueryEscape(s))))
		}
	}
	return out
}

// scanBundle searches the named files of dir for the secrets (in every form) and for signed
// JWTs. It returns an error wrapping ErrUnredacted naming the first file found and what it held,
// without the value itself (a token is named by its fingerprint).
func scanBundle(dir string, names []string, clientID string, secrets []string) error {
	forms := secretForms(clientID, secrets)
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(n)))
		if err != nil {
			return fmt.Errorf("scan %s: %w", n, err)
		}
		if err := scanBytes(data, forms); err != nil {
			return fmt.Errorf("%s holds %w; the bundle was not sealed (a harness bug: please report it)", n, err)
		}
	}
	return nil
}

// scanBytes reports the first secret form or signed JWT found in data.
func scanBytes(data []byte, forms [][]byte) error {
	for _, f := range forms {
		if bytes.Contains(data, f) {
			return fmt.Errorf("%w: a client secret", ErrUnredacted)
		}
	}
	if m := signedJWTRe.Find(data); m != nil {
		return fmt.Errorf("%w: a signed JWT (%s)", ErrUnredacted, redact.Token(string(m)))
	}
	return nil
}
