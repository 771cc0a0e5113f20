package cli

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCodeOf(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil is success", nil, ExitOK},
		{"usage error is 2", Usagef("--rate: %q is not a number", "x"), ExitUsage},
		{"wrapped usage error keeps its code", fmt.Errorf("load: %w", Usagef("bad")), ExitUsage},
		{"failed check is 1", Failedf("MUST failed"), ExitFailed},
		{"unreachable is 3", Unreachablef("dial: refused"), ExitUnreachable},
		{"plain error is a harness failure", errors.New("boom"), ExitUnreachable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, CodeOf(tt.err))
		})
	}
}

func TestOneLine(t *testing.T) {
	assert.Equal(t, "a b c", OneLine(errors.New("a\n  b\tc\n")))
}
