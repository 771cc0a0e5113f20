package steps

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/internal/catalog"
	"github.com/authzcheck/authzcheck/internal/evidence"
)

func TestParseModifiers(t *testing.T) {
	tests := []struct {
		text, rest string
		want       part
	}{
		{"the response status is 401", "the response status is 401", part{}},
		{"ideally the response status is 401", "the response status is 401", part{level: catalog.Should}},
		{"for information, the token's iss is \"x\"", "the token's iss is \"x\"", part{level: catalog.Info}},
		{"under the rfc6749 profile, the error is x", "the error is x", part{profile: catalog.ProfileRFC6749}},
		{"under the derbysoft profile, ideally the error is x", "the error is x", part{profile: catalog.ProfileDerbySoft, level: catalog.Should}},
		{"under the other profile, the error is x", "under the other profile, the error is x", part{}},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			p, rest := parseModifiers(tt.text)
			assert.Equal(t, tt.want, p)
			assert.Equal(t, tt.rest, rest)
		})
	}
}

func FuzzParseModifiers(f *testing.F) {
	f.Add("under the derbysoft profile, ideally the error is x")
	f.Add("for information, x")
	f.Add("under the rfc6749 profile, ")
	f.Fuzz(func(t *testing.T, text string) {
		p, rest := parseModifiers(text)
		if len(rest) > len(text) || text[len(text)-len(rest):] != rest {
			t.Fatalf("rest %q is not a suffix of %q", rest, text)
		}
		if p.level != "" && p.level != catalog.Should && p.level != catalog.Info {
			t.Fatalf("level %q", p.level)
		}
		if p == (part{}) && rest != text {
			t.Fatalf("no modifier, yet text changed: %q -> %q", text, rest)
		}
	})
}

func TestPartLevelNeverRaisesTheCheckLevel(t *testing.T) {
	tests := []struct {
		check, marker, want catalog.Level
	}{
		{catalog.Must, "", catalog.Must},
		{catalog.Must, catalog.Should, catalog.Should},
		{catalog.Must, catalog.Info, catalog.Info},
		{catalog.Should, "", catalog.Should},
		{catalog.Info, catalog.Should, catalog.Info},
	}
	for _, tt := range tests {
		s := &scenario{level: tt.check, part: part{level: tt.marker}}
		assert.Equal(t, tt.want, s.partLevel(), "%s check, %q part", tt.check, tt.marker)
	}
}

func TestParseTagExpr(t *testing.T) {
	tests := []struct {
		expr string
		tags []string
		want bool
	}{
		{"", []string{"TOK-01", "must"}, true},
		{"@must", []string{"TOK-01", "must"}, true},
		{"@must && ~@api", []string{"BEARER-01", "must", "api"}, false},
		{"@must && ~@api", []string{"TOK-01", "must"}, true},
		{"@AUTH-02,@TOK-01", []string{"TOK-01", "must"}, true},
		{"@AUTH-02,@TOK-01", []string{"TOK-02", "must"}, false},
		{"~@should", []string{"TOK-06", "should"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			e, err := parseTagExpr(tt.expr)
			require.NoError(t, err)
			assert.Equal(t, tt.want, e.match(tt.tags))
		})
	}
	for _, bad := range []string{"@must &&", "@a,,@b", "~", "@a b", "@must && ~"} {
		_, err := parseTagExpr(bad)
		assert.Error(t, err, bad)
	}
	e, _ := parseTagExpr("@intrusive && ~@api")
	assert.True(t, e.names("intrusive"))
	assert.False(t, e.names("api"), "a negated tag is not a request for it")
}

func FuzzParseTagExpr(f *testing.F) {
	f.Add("@must && ~@api,@TOK-01")
	f.Add("~@intrusive")
	f.Add(",&&~@")
	f.Fuzz(func(t *testing.T, s string) {
		e, err := parseTagExpr(s)
		if err != nil {
			return
		}
		// What parses prints back to an expression that parses to the same thing.
		again, err := parseTagExpr(e.String())
		if err != nil {
			t.Fatalf("%q printed as %q, which does not parse: %v", s, e.String(), err)
		}
		if again.String() != e.String() {
			t.Fatalf("%q -> %q -> %q", s, e.String(), again.String())
		}
		_ = e.match([]string{"must", "TOK-01"})
	})
}

func TestParseWaivers(t *testing.T) {
	text := "# ID  expires  reason\n\nAUTH-16  2030-03-31  UAT answers 401; fix planned\nTOK-09 accepted by the partner\n"
	ws, err := ParseWaivers([]byte(text))
	require.NoError(t, err)
	assert.Equal(t, []evidence.Waiver{
		{ID: "AUTH-16", Expires: "2030-03-31", Reason: "UAT answers 401; fix planned"},
		{ID: "TOK-09", Reason: "accepted by the partner"},
	}, ws)

	js := `[{"id":"AUTH-16","reason":"r","expires":"2030-03-31"}]`
	ws, err = ParseWaivers([]byte(js))
	require.NoError(t, err)
	assert.Equal(t, []evidence.Waiver{{ID: "AUTH-16", Reason: "r", Expires: "2030-03-31"}}, ws)

	for name, bad := range map[string]string{
		"unknown ID":      "AUTH-99 2030-01-01 typo",
		"no reason":       "AUTH-16 2030-01-01",
		"bad date":        "AUTH-16 2030-13-45 r",
		"JSON no reason":  `[{"id":"AUTH-16"}]`,
		"JSON not a list": `[{`,
	} {
		_, err := ParseWaivers([]byte(bad))
		assert.Error(t, err, name)
	}
	_, err = ParseWaivers([]byte("\n\nAUTH-99 x\n"))
	assert.ErrorContains(t, err, "line 3", "the error names the line")
}

func FuzzParseWaivers(f *testing.F) {
	f.Add([]byte("AUTH-16  2030-03-31  reason\n# c\nTOK-09 r"))
	f.Add([]byte(`[{"id":"TOK-01","reason":"x"}]`))
	f.Add([]byte("TOK-01 2030-02-30 x"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ws, err := ParseWaivers(b)
		if err != nil {
			return
		}
		for _, w := range ws {
			if _, ok := catalog.Lookup(w.ID); !ok || w.Reason == "" {
				t.Fatalf("accepted %+v", w)
			}
			if w.Expires != "" {
				if _, err := time.Parse(time.DateOnly, w.Expires); err != nil {
					t.Fatalf("accepted expiry %q", w.Expires)
				}
			}
		}
	})
}

func TestActiveWaiverExpires(t *testing.T) {
	ws := []evidence.Waiver{{ID: "AUTH-16", Reason: "r", Expires: "2030-03-31"}, {ID: "TOK-09", Reason: "forever"}}
	_, ok := activeWaiver(ws, "AUTH-16", time.Date(2030, 3, 30, 23, 59, 0, 0, time.UTC))
	assert.True(t, ok, "the day before expiry")
	_, ok = activeWaiver(ws, "AUTH-16", time.Date(2030, 3, 31, 0, 0, 0, 0, time.UTC))
	assert.False(t, ok, "from the expiry day on the waiver no longer applies")
	_, ok = activeWaiver(ws, "TOK-09", time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC))
	assert.True(t, ok)
	_, ok = activeWaiver(ws, "TOK-01", time.Now())
	assert.False(t, ok)
}

func FuzzParseJWT(f *testing.F) {
	f.Add("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJURVNUIn0.c2ln", true)
	f.Add("eyJhbGciOiJub25lIn0=.e30=.", false)
	f.Add("a.b", true)
	f.Fuzz(func(t *testing.T, tok string, strict bool) {
		p, err := parseJWT(tok, strict)
		if err != nil {
			return
		}
		if p.header == nil || p.claims == nil {
			t.Fatalf("%q parsed without a header or claims", tok)
		}
		// Forgeries of whatever parses are themselves three segments.
		for _, f := range []string{alterSignature(p), alterClaims(p), algNone(p)} {
			if len(strings.Split(f, ".")) != 3 {
				t.Fatalf("forgery %q of %q is not a compact JWS", f, tok)
			}
		}
	})
}
