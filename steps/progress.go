package steps

import (
	"fmt"
	"io"
	"sync"

	"github.com/authzcheck/authzcheck/internal/catalog"
)

// progress prints one line per area: a mark per finished scenario. While scenarios run at once
// (buffered), their areas interleave: the marks are kept per area and printed by flush, one
// line per area in catalogue order.
type progress struct {
	w        io.Writer
	mu       sync.Mutex
	area     string
	buffered bool
	marks    map[string]string // area -> marks not printed yet (buffered)
}

func (p *progress) add(area string, o outcome) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	mark := markOf(o)
	if p.buffered {
		if p.marks == nil {
			p.marks = map[string]string{}
		}
		p.marks[area] += mark
		return
	}
	p.print(area, mark)
}

// flush prints the buffered marks, one line per area in the order of checks, and stops
// buffering.
func (p *progress) flush(checks []catalog.Check) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buffered = false
	areas := []string{}
	for _, c := range checks {
		if !contains(areas, c.Area) {
			areas = append(areas, c.Area)
		}
	}
	for a := range p.marks {
		if !contains(areas, a) {
			areas = append(areas, a) // RUN, last
		}
	}
	for _, a := range areas {
		if m := p.marks[a]; m != "" {
			p.print(a, m)
		}
	}
	p.marks = nil
}

// print prints marks on area's line, starting a new line when the area changes.
func (p *progress) print(area, marks string) {
	if area != p.area {
		if p.area != "" {
			fmt.Fprintln(p.w)
		}
		fmt.Fprintf(p.w, "  %-7s", area)
		p.area = area
	}
	fmt.Fprint(p.w, marks)
}

func markOf(o outcome) string {
	mark := "."
	switch {
	case o.skip != "":
		mark = "s"
	case worst(o.failures) == catalog.Must:
		mark = "F"
	case worst(o.failures) == catalog.Should:
		mark = "w"
	}
	return mark
}

func (p *progress) done() {
	if p.w != nil && p.area != "" {
		fmt.Fprintln(p.w)
	}
}
