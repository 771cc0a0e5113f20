package tokencache

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestParseRetryAfter(t *testing.T) {
	tests := []struct {
		name  string
		value string
		want  time.Duration
		ok    bool
	}{
		{"seconds", "120", 2 * time.Minute, true},
		{"seconds with spaces", " 5 ", 5 * time.Second, true},
		{"an HTTP date", now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{"an HTTP date in the past", now.Add(-time.Minute).Format(http.TimeFormat), 0, false},
		{"zero", "0", 0, false},
		{"negative", "-3", 0, false},
		{"more than an hour is an hour", "86400", time.Hour, true},
		{"a number too big for int64", "99999999999999999999", 0, false},
		{"empty", "", 0, false},
		{"words", "soon", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseRetryAfter(tt.value, now)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

// FuzzParseRetryAfter checks that any header value gives either nothing or a positive delay of
// at most an hour for delay-seconds, and that delay-seconds come back exactly.
func FuzzParseRetryAfter(f *testing.F) {
	f.Add("120", int64(7))
	f.Add(now.Format(http.TimeFormat), int64(0))
	f.Add("Sun, 06 Nov 1994 08:49:37 GMT", int64(-1))
	f.Add(" 1 ", int64(3601))
	f.Fuzz(func(t *testing.T, value string, secs int64) {
		if d, ok := parseRetryAfter(value, now); ok {
			assert.Positive(t, d, "%q", value)
		} else {
			assert.Zero(t, d, "%q", value)
		}
		d, ok := parseRetryAfter(strconv.FormatInt(secs, 10), now)
		switch {
		case secs <= 0:
			assert.False(t, ok, "%d accepted", secs)
		case secs >= 3600:
			assert.True(t, ok)
			assert.Equal(t, time.Hour, d)
		default:
			assert.True(t, ok)
			assert.Equal(t, time.Duration(secs)*time.Second, d)
		}
	})
}
