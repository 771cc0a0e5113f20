package loopback

import (
	"testing"

	"github.com/stretchr/testify/assert"
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
