package steps

import (
	"fmt"
	"strings"
)

// tagExpr is a parsed godog tag expression: clauses joined by "," (or), each a list of terms
// joined by "&&" (and), each term a tag with an optional "~" (not). "@must && ~@api,@TOK-01"
// selects the MUST checks that need no API, and TOK-01.
type tagExpr [][]tagTerm

type tagTerm struct {
	not bool
	tag string // without "@"
}

// parseTagExpr parses a --tags value. The empty string selects everything.
func parseTagExpr(s string) (tagExpr, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var e tagExpr
	for _, clause := range strings.Split(s, ",") {
		var terms []tagTerm
		for _, raw := range strings.Split(clause, "&&") {
			t := strings.TrimSpace(raw)
			var term tagTerm
			if strings.HasPrefix(t, "~") {
				term.not, t = true, strings.TrimSpace(t[1:])
			}
			t = strings.TrimPrefix(t, "@")
			if t == "" || !validTag(t) {
				return nil, fmt.Errorf("--tags %q: %q is not a tag; write tags like '@must && ~@api' or '@AUTH-02,@TOK-01'", s, strings.TrimSpace(raw))
			}
			term.tag = t
			terms = append(terms, term)
		}
		e = append(e, terms)
	}
	return e, nil
}

func validTag(t string) bool {
	for _, r := range t {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// match reports whether a scenario with tags (without "@") is selected.
func (e tagExpr) match(tags []string) bool {
	if len(e) == 0 {
		return true
	}
	has := func(t string) bool {
		for _, x := range tags {
			if x == t {
				return true
			}
		}
		return false
	}
	for _, clause := range e {
		ok := true
		for _, term := range clause {
			if has(term.tag) == term.not {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// names reports whether the expression asks for one of tags by name (not negated): how an
// @intrusive check is selected explicitly.
func (e tagExpr) names(tags ...string) bool {
	for _, clause := range e {
		for _, term := range clause {
			if term.not {
				continue
			}
			for _, t := range tags {
				if term.tag == t {
					return true
				}
			}
		}
	}
	return false
}

// String writes the expression back in godog's syntax.
func (e tagExpr) String() string {
	var cs []string
	for _, clause := range e {
		var ts []string
		for _, t := range clause {
			s := "@" + t.tag
			if t.not {
				s = "~" + s
			}
			ts = append(ts, s)
		}
		cs = append(cs, strings.Join(ts, " && "))
	}
	return strings.Join(cs, ",")
}
