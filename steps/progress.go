package steps

import (
	"fmt"
	"io"
	"sync"

	"github.com/authzcheck/authzcheck/internal/catalog"
)

// progress prints one line per area: a mark per finished scenario.
type progress struct {
	w    io.Writer
	mu   sync.Mutex
	area string
}

func (p *progress) add(area string, o outcome) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if area != p.area {
		if p.area != "" {
			fmt.Fprintln(p.w)
		}
		fmt.Fprintf(p.w, "  %-7s", area)
		p.area = area
	}
	mark := "."
	switch {
	case o.skip != "":
		mark = "s"
	case worst(o.failures) == catalog.Must:
		mark = "F"
	case worst(o.failures) == catalog.Should:
		mark = "w"
	}
	fmt.Fprint(p.w, mark)
}

func (p *progress) done() {
	if p.w != nil && p.area != "" {
		fmt.Fprintln(p.w)
	}
}
