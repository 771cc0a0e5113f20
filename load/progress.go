package load

import (
	"fmt"
	"io"
	"time"
)

// progress draws a live progress line (carriage return, no newline until the end).
type progress struct {
	done  chan struct{}
	ended chan struct{}
}

func startProgress(w io.Writer, every, planned time.Duration, c *collector) *progress {
	if every <= 0 {
		every = 500 * time.Millisecond
	}
	p := &progress{done: make(chan struct{}), ended: make(chan struct{})}
	start := time.Now()
	draw := func(final bool) {
		s := c.snapshot()
		el := time.Since(start)
		rate, succ := 0.0, 0.0
		if el > 0 {
			rate = float64(s.requests) / el.Seconds()
		}
		if s.requests > 0 {
			succ = float64(s.ok) / float64(s.requests) * 100
		}
		end := ""
		if final {
			end = "\n"
		}
		fmt.Fprintf(w, "\r%s / %s (%s left)  %d requests  %.1f/s  success %.2f%%  p99 %s   %s",
			el.Round(time.Second), planned, max(planned-el, 0).Round(time.Second), s.requests, rate, succ, s.p99.Round(time.Microsecond), end)
	}
	go func() {
		defer close(p.ended)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				draw(true)
				return
			case <-t.C:
				draw(false)
			}
		}
	}()
	return p
}

func (p *progress) stop() {
	close(p.done)
	<-p.ended
}
