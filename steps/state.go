package steps

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cucumber/godog"

	"github.com/authzcheck/authzcheck/internal/catalog"
)

// scenario is the state of one running scenario (one pickle), kept in its context.
type scenario struct {
	r     *runner
	id    string // the check ID
	check catalog.Check
	level catalog.Level // the check's level under the run's profile
	tags  []string
	// as is the client the scenario asks for tokens as: "" for the first, or the second when
	// the scenario runs as a client of its own (ownClientCheck).
	as string
	// hold is the scenario's hold on runner.alone: shared while it runs alongside others,
	// exclusive once it runs alone.
	hold hold

	part part // the modifiers of the step running now

	last    *exchange   // the latest answer
	history []*exchange // every answer of this scenario, in order
	batch   []*exchange // the answers of the latest repeated request (CACHE-01/04, AUTH-17)
	later   *exchange   // CACHE-01's request a second after a batch whose token repeated
	tokens  []heldToken // tokens obtained in this scenario, in order

	forms map[credForm]*exchange // AUTH-18's answer to each form of the credentials
	// baseline is the API's answer to the same call with "Bearer <the latest token>", sent
	// before a call whose expectation is "accepted" (BEARER-05, CACHE-03): accepted means
	// answered as that one was.
	baseline *exchange
	// variant names the variant of what was sent (AUTH-13, BEARER-16) for a failure's reason.
	variant  string
	variants []string // the variant of each request of the latest API call, when named

	failures    []failure
	notes       []string
	transcripts []string
	skip        string // why the scenario was skipped
	info        bool   // what the check judged is information only here: its row says INFO
	stopped     bool   // a step returned an error on purpose (a recorded failure)
	started     time.Time
}

// hold is a scenario's hold on runner.alone.
type hold int

const (
	notHeld hold = iota
	shared
	exclusive
)

// client is the client whose valid credentials the scenario's token requests present.
func (s *scenario) client() string {
	if s.as != "" {
		return s.as
	}
	return s.r.cfg.ClientID
}

// heldToken is a token a scenario obtained, with the answer that carried it.
type heldToken struct {
	raw    string
	client string
	ex     *exchange
}

// failure is one failed expectation: the level of the part that failed and why.
type failure struct {
	level  catalog.Level
	reason string
}

type scenarioKey struct{}

func stateOf(ctx context.Context) *scenario {
	s, _ := ctx.Value(scenarioKey{}).(*scenario)
	return s
}

// part is what a step's wording says about the expectation it states (see parseModifiers).
type part struct {
	profile string        // "" or the only profile the step applies to
	level   catalog.Level // "" (the check's level), Should or Info
}

// Step modifiers, written at the start of an outcome step:
//
//	under the derbysoft profile, ...   the step applies to that profile only
//	ideally ...                        the SHOULD part of a check
//	for information, ...               an observation that never fails
//
// They combine in that order: "under the derbysoft profile, ideally the error is x".
const (
	modProfilePrefix = "under the "
	modProfileSuffix = " profile, "
	modIdeally       = "ideally "
	modInfo          = "for information, "
)

// modifierPattern is the regular expression prefix that admits the modifiers; step patterns
// are written after it.
const modifierPattern = `^(?:under the (?:derbysoft|rfc6749) profile, )?(?:ideally |for information, )?`

// parseModifiers splits a step's text into its modifiers and the plain expectation. Text
// without modifiers comes back unchanged with a zero part.
func parseModifiers(text string) (part, string) {
	var p part
	if strings.HasPrefix(text, modProfilePrefix) {
		rest := text[len(modProfilePrefix):]
		for _, prof := range []string{catalog.ProfileDerbySoft, catalog.ProfileRFC6749} {
			if strings.HasPrefix(rest, prof+modProfileSuffix) {
				p.profile = prof
				text = rest[len(prof+modProfileSuffix):]
				break
			}
		}
	}
	switch {
	case strings.HasPrefix(text, modIdeally):
		p.level, text = catalog.Should, text[len(modIdeally):]
	case strings.HasPrefix(text, modInfo):
		p.level, text = catalog.Info, text[len(modInfo):]
	}
	return p, text
}

// partLevel is the level of the step running now: the check's level, lowered by "ideally"
// (SHOULD) or "for information" (INFO), never raised.
func (s *scenario) partLevel() catalog.Level {
	if s.part.level != "" && s.part.level.Rank() < s.level.Rank() {
		return s.part.level
	}
	return s.level
}

// errSkipCheck carries why a check cannot be judged (an opaque token under rfc6749, no TLS to
// inspect): the scenario is skipped with that reason, never passed.
type errSkipCheck struct{ reason string }

func (e errSkipCheck) Error() string { return "skipped: " + e.reason }

func skipf(format string, args ...any) error { return errSkipCheck{fmt.Sprintf(format, args...)} }

// judge runs one expectation under the current step's modifiers. A failed MUST part stops the
// scenario (its error goes to godog); a failed SHOULD part is recorded and the scenario goes on,
// so that a later MUST part is still judged; an INFO part only adds a note.
func judge(ctx context.Context, fn func(s *scenario) error) error {
	s := stateOf(ctx)
	if s.part.profile != "" && s.part.profile != s.r.cfg.Profile {
		return nil
	}
	err := fn(s)
	if err == nil {
		return nil
	}
	var sk errSkipCheck
	if errors.As(err, &sk) {
		s.skip = sk.reason
		return godog.ErrSkip
	}
	if s.variant != "" {
		err = fmt.Errorf("%s: %w", s.variant, err)
	}
	err = s.bounded(err)
	lvl := s.partLevel()
	if lvl == catalog.Info {
		s.notes = append(s.notes, err.Error())
		return nil
	}
	s.failures = append(s.failures, failure{level: lvl, reason: err.Error()})
	if lvl == catalog.Must {
		s.stopped = true
		return err
	}
	return nil
}

// precondition skips the scenario when what it needs could not be had (no token to work
// with, a variant that cannot be made for this client): the check is skipped with that reason,
// never failed or passed on an answer it was not about. The failure itself, if any, is the
// check's that asks for it (TOK-01 for the valid token request).
func precondition(s *scenario, err error) error {
	if err == nil {
		return nil
	}
	var sk errSkipCheck
	if errors.As(err, &sk) {
		s.skip = sk.reason
		return godog.ErrSkip
	}
	s.skip = s.bounded(err).Error()
	return godog.ErrSkip
}

// maxFindingBytes bounds a reason or note: they quote what the target said (an error code, a
// header, a claim), which can be as large as an answer, and a run keeps them all.
const maxFindingBytes = 4 << 10

// bounded is err, or its text redacted and cut to maxFindingBytes when longer.
func (s *scenario) bounded(err error) error {
	if len(err.Error()) <= maxFindingBytes {
		return err
	}
	return errors.New(clip(s.r.red, err.Error(), maxFindingBytes))
}

// note adds an observation to the check's result.
func (s *scenario) note(format string, args ...any) {
	n := fmt.Sprintf(format, args...)
	if len(n) > maxFindingBytes {
		n = clip(s.r.red, n, maxFindingBytes)
	}
	s.notes = append(s.notes, n)
}

// record keeps an exchange as the scenario's latest answer.
func (s *scenario) record(ex *exchange) *exchange {
	s.history = append(s.history, ex)
	s.last = ex
	s.transcripts = append(s.transcripts, ex.file)
	return ex
}
