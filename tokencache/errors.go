package tokencache

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"golang.org/x/oauth2"
)

// maxErrorCode bounds the OAuth error code quoted from a token endpoint's answer.
const maxErrorCode = 64

// sourceError is a token source's failure with a message that is safe to log and to hand to
// callers. The message of an [*oauth2.RetrieveError] quotes the token endpoint's whole answer,
// and an endpoint may echo the request in it: the client secret, or the Basic credential. This
// shows only the HTTP status code and the OAuth error code; Unwrap still returns the original, so
// errors.As finds the RetrieveError (and its Retry-After).
type sourceError struct {
	err error
	msg string
}

func (e *sourceError) Error() string { return e.msg }

// Unwrap returns the source's own error.
func (e *sourceError) Unwrap() error { return e.err }

// redactSourceError wraps err in a sourceError when it carries an *oauth2.RetrieveError; any
// other error is returned as it is.
func redactSourceError(err error) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return err
	}
	msg := "oauth2: cannot fetch token"
	if re.Response != nil {
		// The code and Go's text for it, not the server's reason phrase.
		msg += ": " + strconv.Itoa(re.Response.StatusCode) + " " + http.StatusText(re.Response.StatusCode)
	}
	if code := re.ErrorCode; code != "" {
		if len(code) > maxErrorCode {
			code = code[:maxErrorCode]
		}
		msg += fmt.Sprintf(" (error %q)", code)
	}
	return &sourceError{err: err, msg: msg}
}
