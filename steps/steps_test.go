package steps

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAlterSecret(t *testing.T) {
	for change, want := range map[string]string{
		"one character changed":   "s3cretx",
		"one character removed":   "s3cret",
		"one character appended":  "s3cretXx",
		"its letter case flipped": "S3CRETx",
	} {
		got, err := alterSecret("s3cretX", change)
		require.NoError(t, err, change)
		assert.Equal(t, want, got, change)
	}
	got, err := alterSecret("12345678", "its letter case flipped")
	require.NoError(t, err)
	assert.Empty(t, got, "no letters: the case cannot be flipped")
	_, err = alterSecret("s3cretX", "one character doubled")
	assert.ErrorContains(t, err, `unknown change "one character doubled"`)
}

func TestAnswerSaysWhatWasExpected(t *testing.T) {
	s := &scenario{}
	_, err := answer(s, "status 200")
	assert.EqualError(t, err, "expected status 200, but no request was made")
	s.last = &exchange{err: errTargetDown}
	_, err = answer(s, "status 200")
	assert.EqualError(t, err, "expected status 200, got no answer ("+errTargetDown.Error()+")")
	s.last = &exchange{status: 401}
	ex, err := answer(s, "status 200")
	require.NoError(t, err)
	assert.Same(t, s.last, ex)
}
