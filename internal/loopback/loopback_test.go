package loopback

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHostAndURL(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want bool
	}{
		{"http://127.0.0.1:8080/token", true},
		{"https://127.9.9.9/token", true},
		{"http://[::1]:1/x", true},
		{"http://localhost/x", true},
		{"http://LocalHost:80/x", true},
		{"https://10.0.0.1/token", false},
		{"https://localhost.example.com/token", false},
		{"https://uat.example.invalid/token", false},
		{"http://[::ffff:127.0.0.1]/x", true},
		{"http://0.0.0.0/x", false},
		{"::not a url", false},
	} {
		t.Run(tc.url, func(t *testing.T) {
			assert.Equal(t, tc.want, URL(tc.url))
		})
	}
	assert.True(t, Host("::1"))
	assert.False(t, Host(""))
}

func TestCleartextRefusesPlainHTTPToARemoteHostOnly(t *testing.T) {
	cases := []struct {
		name   string
		url    string
		refuse bool
	}{
		{"plain http to a remote IP is refused", "http://192.0.2.1/token", true},
		{"plain http to a remote name is refused", "http://auth.example/token", true},
		{"upper-case scheme is still plain http", "HTTP://192.0.2.1/token", true},
		{"https to a remote host is allowed", "https://192.0.2.1/token", false},
		{"plain http to 127.0.0.1 is allowed", "http://127.0.0.1:8080/token", false},
		{"plain http to ::1 is allowed", "http://[::1]:8080/token", false},
		{"plain http to localhost is allowed", "http://localhost/token", false},
		{"an unparsable URL is left to other checks", "http://%zz", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Cleartext(tc.url)
			if !tc.refuse {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrCleartext)
			assert.Contains(t, err.Error(), "https")
		})
	}
}

func TestCleartextNeverPrintsAPassword(t *testing.T) {
	err := Cleartext("http://user:hunter2-secret@192.0.2.1/token")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "hunter2-secret")
}
