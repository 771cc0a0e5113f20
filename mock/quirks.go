package mock

import (
	"fmt"
	"sort"
	"strings"
)

// QuirkInfo describes a named, deliberate deviation from the contract.
type QuirkInfo struct {
	Name        string
	Description string
	// Breaks lists the check IDs (CHECKS.md) a conformance run fails, at any level, with this
	// quirk on and nothing else changed, under the derbysoft profile.
	Breaks []string
	// BreaksRFC6749 is the same list under the rfc6749 profile; nil means the same as Breaks.
	BreaksRFC6749 []string
}

// BreaksFor returns the check IDs the quirk breaks under a profile ("derbysoft" or "rfc6749").
func (q QuirkInfo) BreaksFor(profile string) []string {
	if profile == "rfc6749" && q.BreaksRFC6749 != nil {
		return q.BreaksRFC6749
	}
	return q.Breaks
}

type quirk int

// The quirks, in the order of the table below.
const (
	qNoWWWAuthenticate quirk = iota
	qStatus400ForBadClient
	qEnumeratingErrors
	qAcceptNoCredentials
	qWeakSecretCompare
	qAcceptEmptySecret
	qAcceptQueryCredentials
	qAcceptBearerOnToken
	q5xxOnBadBasic
	qAcceptNoColon
	qCaseSensitiveBasic
	qNoFormDecodeCredentials
	qAcceptBothAuth
	qAcceptDuplicateAuthorization
	qGrantTypeOptional
	qGrantTypeEmptyOK
	qAnyGrantType
	qGrantTypeCaseInsensitive
	qDuplicateGrantTypeOK
	qGrantTypeFromQuery
	qAcceptGet
	qAcceptJSONBody
	qCrashOnLargeBody
	qHTMLErrors
	qEchoSecretInError
	qErrorsCacheable
	qTokenContentTypeText
	qTokenTypeWrong
	qExpiresInString
	qExpiresInFloat
	qNoCacheControl
	qNoPragma
	qRefreshToken
	qRejectUnknownParam
	qStrictContentType
	qIgnoreScope
	qDropUnknownScope
	qScopeCommaDelimited
	qAlgHS256
	qPaddedJWT
	qJWKSWrongKey
	qWrongExp
	qCachedFullLifetime
	qSharedToken
	qSkewedIat
	qNbfFuture
	qNoIss
	qNoScopeClaim
	qRepeatJTI
	qAPIAcceptsAlgNone
	qAPIAcceptsHS256PublicKey
	qAPINoSignatureCheck
	qAPIRS256Unverified
	qAPIIgnoreExpiry
	qAPIAcceptsBasic
	qAPINoAuth
	qAPI403ForInvalid
	qAPINoWWWAuthenticate
	qAPIInvalidTokenNoError
	qAPIRejectsLowercaseBearer
	qAPITokenWithoutScheme
	qAPIQueryToken
	qAPINoScopeCheck
	qAPIRejectAll
	qOpaqueToken
	qScopedAnswerCacheable
	qScopedClaimAllScopes
	qJTICounterPerClient
	qLateRevokePrevious
	qDeterministicPerSecond
	qSharedTokenPerSecond
	qScopedAnswerSloppy
	qEncodedCredentialsOnly
	qAPI400LowercaseBearer
	qAPI400ForValidToken
	qIgnoreLoneBodySecret
	qIgnoreBodyClientID
	qAcceptAccessTokenOnToken
	qAPITrustsJWKHeader
	qAPITrustsJKUHeader
	qAPITrustsX5CHeader
	qAPIAcceptsAlgNoneAnyCase
	qTrimSecret
	qBasicTwoSpellings
	qAPIEmptyBearerPasses
	qAPITrustsX5UHeader
	qAPIKidNamesKeyFile
	numQuirks
)

// quirkTable is every quirk with its documentation. Breaks assumes the conformance suite's
// documented reading of CHECKS.md: BEARER-12 fails when any of BEARER-07..11 is accepted; checks
// other than TOK-05 read a numeric-string expires_in by value; the JWT checks other than JWT-01
// decode padded base64url segments leniently.
var quirkTable = [numQuirks]QuirkInfo{
	qNoWWWAuthenticate:     {Name: "no-www-authenticate", Description: "401 invalid_client answers carry no WWW-Authenticate header", Breaks: []string{"AUTH-03"}},
	qStatus400ForBadClient: {Name: "status-400-for-bad-client", Description: "invalid_client is answered with status 400 instead of 401 (WWW-Authenticate kept)", Breaks: []string{"AUTH-01", "AUTH-02", "AUTH-04"}},
	qEnumeratingErrors:     {Name: "enumerating-errors", Description: "an unknown client ID gets a different error description and an extra body field than a wrong secret (client enumeration)", Breaks: []string{"AUTH-05"}},
	qAcceptNoCredentials:   {Name: "accept-no-credentials", Description: "a request with no client credentials at all gets a token for the first client", Breaks: []string{"AUTH-01"}},
	qWeakSecretCompare:     {Name: "weak-secret-compare", Description: "the secret is compared case-insensitively and as a prefix (either string a prefix of the other)", Breaks: []string{"AUTH-15"}},
	qAcceptEmptySecret:     {Name: "accept-empty-secret", Description: "a known client ID with an empty secret is accepted", Breaks: []string{"AUTH-08"}},
	qAcceptQueryCredentials: {Name: "accept-query-credentials", Description: "client_id and client_secret in the URL query authenticate the client",
		Breaks: []string{"AUTH-12"}},
	qAcceptBearerOnToken: {Name: "accept-bearer-on-token", Description: "any Authorization: Bearer value on the token endpoint authenticates as the first client", Breaks: []string{"AUTH-09"}},
	q5xxOnBadBasic:       {Name: "5xx-on-bad-basic", Description: "a Basic value that is not base64 makes the server answer 500 (JSON body)", Breaks: []string{"AUTH-06", "HTTP-07"}},
	qAcceptNoColon:       {Name: "accept-no-colon", Description: "a Basic value without a colon authenticates as the first client", Breaks: []string{"AUTH-07"}},
	qCaseSensitiveBasic:  {Name: "case-sensitive-basic", Description: "only the exact scheme name \"Basic\" is accepted; \"basic\" is refused", Breaks: []string{"AUTH-10"}},
	qNoFormDecodeCredentials: {Name: "no-form-decode-credentials", Description: "ID and secret inside Basic are not form-urldecoded (RFC 6749 §2.3.1 ignored)",
		Breaks: []string{"AUTH-11"}},
	qAcceptBothAuth:               {Name: "accept-both-auth", Description: "Basic together with client_secret in the body is accepted (the body's secret ignored)", Breaks: []string{"AUTH-13"}},
	qAcceptDuplicateAuthorization: {Name: "accept-duplicate-authorization", Description: "of two Authorization headers the first is used", Breaks: []string{"AUTH-16"}},
	qGrantTypeOptional:            {Name: "grant-type-optional", Description: "a missing grant_type (and an empty body) means client_credentials", Breaks: []string{"GRANT-01", "GRANT-07", "HTTP-03"}},
	qGrantTypeEmptyOK:             {Name: "grant-type-empty-ok", Description: "an empty grant_type value means client_credentials", Breaks: []string{"GRANT-02"}},
	qAnyGrantType:                 {Name: "any-grant-type", Description: "any non-empty grant_type is treated as client_credentials", Breaks: []string{"GRANT-03", "GRANT-04", "GRANT-05"}},
	qGrantTypeCaseInsensitive:     {Name: "grant-type-case-insensitive", Description: "grant_type is compared case-insensitively", Breaks: []string{"GRANT-05"}},
	qDuplicateGrantTypeOK:         {Name: "duplicate-grant-type-ok", Description: "a repeated grant_type is accepted (the first one used)", Breaks: []string{"GRANT-06"}},
	qGrantTypeFromQuery:           {Name: "grant-type-from-query", Description: "grant_type is read from the URL query when the body has none", Breaks: []string{"GRANT-07"}},
	qAcceptGet:                    {Name: "accept-get", Description: "GET with parameters in the query issues tokens", Breaks: []string{"HTTP-01"}},
	qAcceptJSONBody:               {Name: "accept-json-body", Description: "a JSON body {\"grant_type\":...} is accepted", Breaks: []string{"HTTP-02"}},
	qCrashOnLargeBody:             {Name: "crash-on-large-body", Description: "a body over the limit makes the server answer 500 (JSON body)", Breaks: []string{"HTTP-04", "HTTP-07"}},
	qHTMLErrors:                   {Name: "html-errors", Description: "errors for malformed requests (bad Basic header, oversized body) come as an HTML page", Breaks: []string{"HTTP-05"}},
	qEchoSecretInError:            {Name: "echo-secret-in-error", Description: "error descriptions echo the presented client secret", Breaks: []string{"HTTP-08"}},
	qErrorsCacheable:              {Name: "errors-cacheable", Description: "error answers of the token endpoint carry no Cache-Control: no-store", Breaks: []string{"HTTP-06"}},
	qTokenContentTypeText:         {Name: "token-content-type-text", Description: "the success answer says Content-Type: text/plain", Breaks: []string{"TOK-02"}},
	qTokenTypeWrong:               {Name: "token-type-wrong", Description: "token_type is \"JWT\" instead of \"Bearer\"", Breaks: []string{"TOK-04"}},
	qExpiresInString: {Name: "expires-in-string", Description: "expires_in is a JSON string (\"28800\"), as the seed's schema table types it",
		Breaks: []string{}, BreaksRFC6749: []string{"TOK-05"}},
	qExpiresInFloat: {Name: "expires-in-float", Description: "expires_in is a fraction, half a second short of the lifetime (28799.5)",
		Breaks: []string{"TOK-05", "TOK-06"}, BreaksRFC6749: []string{"TOK-05"}},
	qNoCacheControl:      {Name: "no-cache-control", Description: "the success answer has no Cache-Control header (Go's HTTP client then reports Cache-Control: no-cache, from Pragma)", Breaks: []string{"TOK-08"}},
	qNoPragma:            {Name: "no-pragma", Description: "the success answer has no Pragma: no-cache", Breaks: []string{"TOK-09"}},
	qRefreshToken:        {Name: "refresh-token", Description: "the success answer includes a refresh_token", Breaks: []string{"TOK-10"}},
	qRejectUnknownParam:  {Name: "reject-unknown-param", Description: "an unknown form parameter is refused with 400 invalid_request", Breaks: []string{"TOK-11"}},
	qStrictContentType:   {Name: "strict-content-type", Description: "only the exact, lower-case Content-Type application/x-www-form-urlencoded without parameters is accepted", Breaks: []string{"TOK-12"}},
	qIgnoreScope:         {Name: "ignore-scope", Description: "the scope parameter is ignored: every token carries all of the client's scopes", Breaks: []string{"TOK-14", "BEARER-13"}},
	qDropUnknownScope:    {Name: "drop-unknown-scope", Description: "scopes the client was not granted are silently dropped instead of refused", Breaks: []string{"TOK-14"}},
	qScopeCommaDelimited: {Name: "scope-comma-delimited", Description: "the response's scope is comma-delimited", Breaks: []string{"TOK-07", "JWT-07"}, BreaksRFC6749: []string{"JWT-07"}},
	qAlgHS256:            {Name: "alg-hs256", Description: "tokens are signed HS256 with a server secret (the sample API accepts them)", Breaks: []string{"JWT-02", "JWT-09"}},
	qPaddedJWT: {Name: "padded-jwt", Description: "the token's base64url segments keep their '=' padding", Breaks: []string{"JWT-01"},
		BreaksRFC6749: []string{}}, // JWT-01 is INFO under rfc6749
	qJWKSWrongKey:       {Name: "jwks-wrong-key", Description: "the JWKS publishes a key that did not sign the tokens", Breaks: []string{"JWT-09"}},
	qWrongExp:           {Name: "wrong-exp", Description: "exp is an hour later than expires_in says", Breaks: []string{"JWT-03", "CACHE-02"}},
	qCachedFullLifetime: {Name: "cached-full-lifetime", Description: "a token cached since 60 s earlier is returned with expires_in claiming the full lifetime", Breaks: []string{"JWT-03", "CACHE-02"}},
	qSharedToken:        {Name: "shared-token", Description: "all clients share one cached token per scope set (expires_in counts down correctly)", Breaks: []string{"CACHE-05"}},
	qSkewedIat:          {Name: "skewed-iat", Description: "iat is an hour in the past (exp stays right)", Breaks: []string{"JWT-04"}},
	qNbfFuture:          {Name: "nbf-future", Description: "nbf is an hour in the future (the sample API ignores nbf)", Breaks: []string{"JWT-05"}},
	qNoIss:              {Name: "no-iss", Description: "tokens carry no iss claim", Breaks: []string{"JWT-06"}},
	qNoScopeClaim:       {Name: "no-scope-claim", Description: "tokens carry no scope claim (the sample API looks scopes up by jti)", Breaks: []string{"JWT-07"}, BreaksRFC6749: []string{}},
	qRepeatJTI:          {Name: "repeat-jti", Description: "every token carries the same jti", Breaks: []string{"JWT-08"}},
	qAPIAcceptsAlgNone:  {Name: "api-accepts-alg-none", Description: "the sample API accepts unsigned tokens (alg none)", Breaks: []string{"BEARER-09", "BEARER-12"}},
	qAPIAcceptsHS256PublicKey: {Name: "api-accepts-hs256-public-key", Description: "the sample API verifies HS256 tokens with its RSA public key as the HMAC secret (algorithm confusion)",
		Breaks: []string{"BEARER-10", "BEARER-12"}},
	qAPINoSignatureCheck: {Name: "api-no-signature-check", Description: "the sample API never checks signatures (claims and expiry still checked)",
		Breaks: []string{"BEARER-07", "BEARER-08", "BEARER-09", "BEARER-10", "BEARER-12", "BEARER-16"}},
	qAPIRS256Unverified: {Name: "api-rs256-unverified", Description: "the sample API accepts RS256 tokens without verifying the signature (alg none and HS256 still refused)",
		Breaks: []string{"BEARER-07", "BEARER-08", "BEARER-12", "BEARER-16"}},
	qAPIIgnoreExpiry: {Name: "api-ignore-expiry", Description: "the sample API accepts expired tokens", Breaks: []string{"BEARER-11", "BEARER-12"}},
	qAPIAcceptsBasic: {Name: "api-accepts-basic", Description: "the sample API accepts a client's Basic credentials instead of a token", Breaks: []string{"BEARER-06"}},
	qAPINoAuth: {Name: "api-no-auth", Description: "the sample API needs no authentication at all",
		Breaks: []string{"BEARER-02", "BEARER-03", "BEARER-04", "BEARER-06", "BEARER-07", "BEARER-08", "BEARER-09", "BEARER-10", "BEARER-11", "BEARER-12", "BEARER-13", "BEARER-14", "BEARER-15", "BEARER-16"}},
	qAPI403ForInvalid: {Name: "api-403-for-invalid", Description: "the sample API answers 403 (with error=\"invalid_token\") instead of 401 for a token that fails verification",
		Breaks: []string{"BEARER-07", "BEARER-08", "BEARER-09", "BEARER-10", "BEARER-11", "BEARER-15", "BEARER-16"}},
	qAPINoWWWAuthenticate:      {Name: "api-no-www-authenticate", Description: "the sample API's 401 answers carry no WWW-Authenticate header", Breaks: []string{"BEARER-03", "BEARER-12"}},
	qAPIInvalidTokenNoError:    {Name: "api-invalid-token-no-error", Description: "the sample API's 401 for a bad token says only Bearer realm=..., without error=\"invalid_token\"", Breaks: []string{"BEARER-12"}},
	qAPIRejectsLowercaseBearer: {Name: "api-rejects-lowercase-bearer", Description: "the sample API accepts only the exact scheme name \"Bearer\"", Breaks: []string{"BEARER-05"}},
	qAPITokenWithoutScheme:     {Name: "api-token-without-scheme", Description: "the sample API accepts a token sent without the Bearer scheme", Breaks: []string{"BEARER-04"}},
	qAPIQueryToken:             {Name: "api-query-token", Description: "the sample API accepts ?access_token= in the query", Breaks: []string{"BEARER-14"}},
	qAPINoScopeCheck:           {Name: "api-no-scope-check", Description: "the sample API does not check the token's scope", Breaks: []string{"BEARER-13"}},
	qOpaqueToken: {Name: "opaque-token", Description: "access tokens are opaque random strings, not JWTs (the sample API looks them up)",
		Breaks:        []string{"JWT-01", "JWT-02", "JWT-03", "JWT-04", "JWT-05", "JWT-06", "JWT-07", "JWT-08", "JWT-09"},
		BreaksRFC6749: []string{}}, // an opaque token is allowed; JWT-01..02 INFO, the rest skipped
	// The demo secrets hold '+', '/', '=' and '%': their raw form is refused, so a run that
	// sent only the seed's raw form would fail most checks; the harness finds the encoded form.
	qEncodedCredentialsOnly: {Name: "encoded-credentials-only", Description: "ID and secret inside Basic are always form-urldecoded (RFC 6749 §2.3.1 read strictly): a raw secret holding '+' or '%' is refused",
		Breaks: []string{"AUTH-18"}, BreaksRFC6749: []string{}},
	qAPI400LowercaseBearer: {Name: "api-400-lowercase-bearer", Description: "the sample API answers 400 \"invalid access token\" to the scheme in any case but \"Bearer\" (and 200 to \"Bearer\")", Breaks: []string{"BEARER-05"}},
	qAPI400ForValidToken:   {Name: "api-400-for-valid-token", Description: "the sample API answers 400 \"invalid access token\" to a token that verified", Breaks: []string{"BEARER-01", "BEARER-05", "BEARER-13", "CACHE-03"}},
	qIgnoreLoneBodySecret: {Name: "ignore-lone-body-secret", Description: "Basic together with a client_secret (and no client_id) in the body is accepted, the body's secret ignored even when wrong",
		Breaks: []string{"AUTH-13"}},
	qIgnoreBodyClientID: {Name: "ignore-body-client-id", Description: "Basic together with another client's client_id in the body issues a token for the Basic client",
		Breaks: []string{"AUTH-13"}},
	qAcceptAccessTokenOnToken: {Name: "accept-access-token-on-token", Description: "a valid access token sent as Authorization: Bearer on the token endpoint authenticates its client",
		Breaks: []string{"AUTH-09"}},
	qAPITrustsJWKHeader: {Name: "api-trusts-jwk-header", Description: "the sample API verifies an RS256 token with the key in its own jwk header", Breaks: []string{"BEARER-16"}},
	qAPITrustsJKUHeader: {Name: "api-trusts-jku-header", Description: "the sample API verifies an RS256 token with a key fetched from its jku header (loopback URLs only)", Breaks: []string{"BEARER-16"}},
	qAPITrustsX5CHeader: {Name: "api-trusts-x5c-header", Description: "the sample API verifies an RS256 token with the key of the first certificate of its x5c header (chain unchecked)", Breaks: []string{"BEARER-16"}},
	qAPIAcceptsAlgNoneAnyCase: {Name: "api-accepts-alg-none-any-case", Description: "the sample API refuses alg \"none\" but accepts it spelled in another case (\"None\", \"NONE\") without a signature",
		Breaks: []string{"BEARER-09", "BEARER-12"}},
	qBasicTwoSpellings: {Name: "basic-two-spellings", Description: "the token endpoint knows the scheme only as \"Basic\" or \"basic\" (\"BASIC\" is refused)",
		Breaks: []string{"AUTH-10"}},
	qAPIEmptyBearerPasses: {Name: "api-empty-bearer-passes", Description: "the sample API lets \"Authorization: Bearer\" with no token after it through as the first client (an optional-auth middleware that skips an empty token)",
		Breaks: []string{"BEARER-15"}},
	qAPITrustsX5UHeader: {Name: "api-trusts-x5u-header", Description: "the sample API verifies an RS256 token with the key of the certificate its x5u header points at (loopback URLs only, chain unchecked)", Breaks: []string{"BEARER-16"}},
	qAPIKidNamesKeyFile: {Name: "api-kid-names-key-file", Description: "the sample API also accepts HS256 under the key read from the file the kid names (path traversal: a kid reaching /dev/null gives the empty key)", Breaks: []string{"BEARER-16"}},
	qTrimSecret:         {Name: "trim-secret", Description: "whitespace around the secret in Basic is trimmed before it is compared", Breaks: []string{"AUTH-15"}},
	qAPIRejectAll:       {Name: "api-reject-all", Description: "the sample API rejects every token with 401 invalid_token", Breaks: []string{"BEARER-01", "BEARER-05", "BEARER-13", "CACHE-03"}},
	qScopedAnswerCacheable: {Name: "scoped-answer-cacheable", Description: "an answer to a request with a scope parameter has no Cache-Control header (the unscoped answer keeps no-store)",
		Breaks: []string{"TOK-08"}},
	qScopedClaimAllScopes: {Name: "scoped-claim-all-scopes", Description: "a token asked for with a narrower scope is answered with that scope, but its scope claim holds all of the client's scopes (the sample API reads the claim)",
		Breaks: []string{"JWT-07", "BEARER-13"}},
	qJTICounterPerClient: {Name: "jti-counter-per-client", Description: "jti is a counter per client (1, 2, ...), so two clients' tokens share jti values",
		Breaks: []string{"JWT-08"}},
	qLateRevokePrevious: {Name: "late-revoke-previous", Description: "a client's newer token revokes its earlier ones at the sample API 300 ms after it is issued (by the mock's clock)",
		Breaks: []string{"CACHE-03"}},
	qDeterministicPerSecond: {Name: "deterministic-per-second", Description: "a client's tokens for one scope are byte-identical within one second (jti derived from client, scope and iat); iat and exp move every second",
		Breaks: []string{}},
	qScopedAnswerSloppy: {Name: "scoped-answer-sloppy", Description: "an answer to a request with a scope parameter says Content-Type: text/plain and token_type \"JWT\", and carries a refresh_token (the unscoped answer is right)",
		Breaks: []string{"TOK-02", "TOK-04", "TOK-10"}},
	qSharedTokenPerSecond: {Name: "shared-token-per-second", Description: "within one second, every client asking for the same scope gets the token first issued in that second (to whichever client asked first)",
		Breaks: []string{"CACHE-05"}},
}

var quirkByName = func() map[string]quirk {
	m := make(map[string]quirk, numQuirks)
	for i, q := range quirkTable {
		if q.Name == "" {
			panic(fmt.Sprintf("mock: quirk %d has no table entry", i))
		}
		m[q.Name] = quirk(i)
	}
	return m
}()

// Quirks lists every quirk with what it breaks, sorted by name.
func Quirks() []QuirkInfo {
	out := make([]QuirkInfo, 0, numQuirks)
	for _, q := range quirkTable {
		q.Breaks = append([]string{}, q.Breaks...)
		if q.BreaksRFC6749 != nil {
			q.BreaksRFC6749 = append([]string{}, q.BreaksRFC6749...)
		}
		out = append(out, q)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// quirkSet is a set of quirks as a bitmap, cheap to test on the hot path.
type quirkSet [2]uint64

func (s quirkSet) has(q quirk) bool { return s[q/64]&(1<<(q%64)) != 0 }
func (s *quirkSet) add(q quirk)     { s[q/64] |= 1 << (q % 64) }

func (s quirkSet) names() []string {
	var out []string
	for i := quirk(0); i < numQuirks; i++ {
		if s.has(i) {
			out = append(out, quirkTable[i].Name)
		}
	}
	return out
}

func parseQuirks(names []string) (quirkSet, error) {
	var s quirkSet
	for _, n := range names {
		q, ok := quirkByName[strings.TrimSpace(n)]
		if !ok {
			return s, fmt.Errorf("unknown quirk %q; 'authzcheck mock --list-quirks' lists them", n)
		}
		s.add(q)
	}
	return s, nil
}
