package steps

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// A step family is one step pattern whose wordings come from a table: the pattern is a fixed
// prefix followed by any one of the table's wordings, so that a wording the table does not
// have is an undefined step (godog runs Strict), never a runtime error. The step function gets
// the wording as written and looks up its entry, whose groups are its arguments.

// wordings is the wordings of a table, each a regular expression whose groups are its entry's
// arguments; they are tried in order, so a more specific wording comes first.
type wordings struct {
	res []*regexp.Regexp // each wording anchored, compiled once
	alt string           // every wording, groups made non-capturing, as one alternation
}

// newWordings compiles a table's wordings; a bad one panics at start-up (tests catch it).
func newWordings(ws []string) *wordings {
	w := &wordings{}
	parts := make([]string, len(ws))
	for i, s := range ws {
		w.res = append(w.res, regexp.MustCompile(`^(?:`+s+`)$`))
		parts[i] = nonCapturing(s)
	}
	w.alt = `(` + strings.Join(parts, `|`) + `)`
	return w
}

// nonCapturing turns the groups of a regular expression into non-capturing ones, so that the
// family's pattern has exactly one group: the wording.
func nonCapturing(re string) string {
	var b strings.Builder
	for i := 0; i < len(re); i++ {
		switch {
		case re[i] == '\\' && i+1 < len(re):
			b.WriteString(re[i : i+2])
			i++
		case re[i] == '(' && (i+1 == len(re) || re[i+1] != '?'):
			b.WriteString("(?:")
		default:
			b.WriteByte(re[i])
		}
	}
	return b.String()
}

// match finds the entry of a wording as written and its arguments; ok is false when none
// matches (the family's pattern lets no such text through).
func (w *wordings) match(text string) (entry int, args []string, ok bool) {
	for i, re := range w.res {
		if m := re.FindStringSubmatch(text); m != nil {
			return i, m[1:], true
		}
	}
	return 0, nil, false
}

// noWording is the error of a text the family's pattern let through but no entry has.
func noWording(text string) error {
	return fmt.Errorf("the harness has no step for %q", text)
}

// outcomeFunc is an outcome step of a table: what it expects, given the wording's arguments.
type outcomeFunc func(ctx context.Context, args []string) error

// outcomeEntry is one wording of an outcome family and what it judges.
type outcomeEntry struct {
	wording string
	judge   outcomeFunc
}

// outcomeFamily defines one outcome step for a table of wordings after prefix; the step
// accepts the modifiers of parseModifiers in front.
func outcomeFamily(t *stepTable, prefix string, entries []outcomeEntry) {
	ws := make([]string, len(entries))
	for i, e := range entries {
		ws[i] = e.wording
	}
	w := newWordings(ws)
	t.family(modifierPattern+prefix+w.alt+`$`, w, func(ctx context.Context, wording string) error {
		i, args, ok := w.match(wording)
		if !ok {
			return noWording(wording)
		}
		return entries[i].judge(ctx, args)
	})
}

// Adapters from the judging functions, with typed arguments, to outcomeFunc.

func args0(f func(context.Context) error) outcomeFunc {
	return func(ctx context.Context, _ []string) error { return f(ctx) }
}

func args1[A int | string](f func(context.Context, A) error) outcomeFunc {
	return func(ctx context.Context, args []string) error {
		a, err := arg[A](args[0])
		if err != nil {
			return err
		}
		return f(ctx, a)
	}
}

func args2[A, B int | string](f func(context.Context, A, B) error) outcomeFunc {
	return func(ctx context.Context, args []string) error {
		a, err := arg[A](args[0])
		if err != nil {
			return err
		}
		b, err := arg[B](args[1])
		if err != nil {
			return err
		}
		return f(ctx, a, b)
	}
}

// arg converts a wording's argument to the type its function takes.
func arg[A int | string](s string) (A, error) {
	var a A
	switch p := any(&a).(type) {
	case *int:
		n, err := strconv.Atoi(s)
		if err != nil {
			return a, fmt.Errorf("the harness expected a number, got %q", s)
		}
		*p = n
	case *string:
		*p = s
	}
	return a, nil
}
