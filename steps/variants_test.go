package steps

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/authzcheck/authzcheck/internal/catalog"
	"github.com/authzcheck/authzcheck/internal/evidence"
	"github.com/authzcheck/authzcheck/mock"
)

// TestReasonNamesTheVariantThatFailed: a check that sends several variants (AUTH-09, AUTH-13,
// BEARER-05, BEARER-09, BEARER-16) says in its reason which one the target got wrong, and a 400
// that names the token counts as a refusal, not as "accepted".
func TestReasonNamesTheVariantThatFailed(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the suite once per case")
	}
	tests := []struct {
		quirk, id string
		want      []string
	}{
		{"ignore-lone-body-secret", "AUTH-13", []string{"a wrong client_secret (and no client_id) in the body", "expected no token"}},
		{"ignore-body-client-id", "AUTH-13", []string{"another client's client_id in the body", "expected no token"}},
		{"trim-secret", "AUTH-15", []string{"the secret altered: a space appended", "the secret altered: a tab prepended", "expected no token"}},
		{"accept-access-token-on-token", "AUTH-09", []string{"a valid access token of this run", "expected no token"}},
		{"api-400-lowercase-bearer", "BEARER-05", []string{`the scheme written "bearer"`, "status 400", "a refusal of the token"}},
		{"api-400-for-valid-token", "BEARER-01", []string{"status 400", "invalid access token", "a refusal of the token"}},
		{"api-accepts-alg-none-any-case", "BEARER-09", []string{`re-signed with alg "None"`, "expected status 401"}},
		{"api-trusts-jwk-header", "BEARER-16", []string{"jwk header", "expected status 401"}},
		{"api-trusts-jku-header", "BEARER-16", []string{"jku header", "expected status 401"}},
		{"api-trusts-x5c-header", "BEARER-16", []string{"x5c header", "expected status 401"}},
	}
	for _, tt := range tests {
		t.Run(tt.quirk, func(t *testing.T) {
			t.Parallel()
			sum := runAgainstMock(t, catalog.ProfileDerbySoft, false, mock.WithQuirks(tt.quirk))
			c := statusOf(sum, tt.id)
			assert.Equal(t, evidence.StatusFailed, c.Status, c.Reason)
			for _, w := range tt.want {
				assert.Contains(t, c.Reason, w)
			}
		})
	}
}

// TestRefusedToken: which API answers refuse the token (BEARER-01, BEARER-05, CACHE-03).
func TestRefusedToken(t *testing.T) {
	tests := []struct {
		name   string
		status int
		header http.Header
		body   string
		want   bool
	}{
		{"401", http.StatusUnauthorized, nil, "", true},
		{"403", http.StatusForbidden, nil, "", true},
		{"400 invalid access token", http.StatusBadRequest, nil, `{"errorCode":"InvalidRequest","errorMessage":"invalid access token"}`, true},
		{"400 with error=invalid_token", http.StatusBadRequest, http.Header{"Www-Authenticate": {`Bearer error="invalid_token"`}}, "", true},
		{"400 about the request", http.StatusBadRequest, nil, `{"errorMessage":"productId is required"}`, false},
		{"400 about the Echo-Token header", http.StatusBadRequest, nil, `{"errorMessage":"Echo-Token must be at most 64 characters"}`, false},
		{"200", http.StatusOK, nil, `{"token":"x"}`, false},
		{"404", http.StatusNotFound, nil, "no such token", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ex := &exchange{status: tt.status, header: tt.header, body: []byte(tt.body)}
			if ex.header == nil {
				ex.header = http.Header{}
			}
			assert.Equal(t, tt.want, refusedToken(ex))
		})
	}
}
