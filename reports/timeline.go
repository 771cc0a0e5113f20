package reports

import (
	"fmt"
	"html/template"
	"math"
	"strings"

	"github.com/authzcheck/authzcheck/internal/evidence"
)

// timelineView is one session's drawing for the template.
type timelineView struct {
	Name, About string
	SVG         template.HTML
}

// timelineViews draws each session of the bundle's client timeline (nil when there is none).
func timelineViews(t *evidence.ClientTimeline) []timelineView {
	if t == nil {
		return nil
	}
	var out []timelineView
	for _, s := range t.Sessions {
		about := s.About
		if drawn := len(s.Calls); s.CallsSeen > drawn {
			about += fmt.Sprintf(" (%d of %d API calls drawn)", drawn, s.CallsSeen)
		}
		out = append(out, timelineView{Name: s.Name, About: about, SVG: timelineSVG(s)})
	}
	return out
}

// Timeline geometry: three lanes (token lifetimes, token requests, API calls) on one time axis,
// as wide as the load charts (chartW, chartRight).
const (
	tlW      = chartW
	tlLeft   = 110
	tlRight  = chartRight
	tlLaneH  = 22
	tlTop    = 8
	tlBottom = 26
)

// timelineSVG draws one session: each token as a bar from its issue to its expiry (alternating
// shades, so a refresh ahead of expiry shows as overlapping bars), each token request and API
// call as a tick (green answered 2xx, red otherwise).
func timelineSVG(s evidence.TimelineSession) template.HTML {
	span := float64(max(s.DurationMS, 1))
	for _, tk := range s.Tokens {
		span = math.Max(span, float64(tk.IssuedMS))
	}
	x := func(ms int64) float64 {
		v := math.Min(math.Max(float64(ms), 0), span)
		return tlLeft + v/span*(tlW-tlLeft-tlRight)
	}
	h := tlTop + 3*tlLaneH + tlBottom
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="timeline" viewBox="0 0 %d %d" role="img" aria-label="timeline of the %s session">`, tlW, h, template.HTMLEscapeString(s.Name))
	lanes := []string{"tokens", "token requests", "API calls"}
	for i, l := range lanes {
		y := tlTop + i*tlLaneH
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="lbl">%s</text>`, tlLeft-6, y+15, l)
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" class="lane"/>`, tlLeft, tlW-tlRight, y+tlLaneH, y+tlLaneH)
	}
	for i, tk := range s.Tokens {
		cls := "tok-a"
		if i%2 == 1 {
			cls = "tok-b"
		}
		y := tlTop + 3 + (i%2)*8
		x0, x1 := x(tk.IssuedMS), x(tk.ExpiresMS)
		fmt.Fprintf(&b, `<rect x="%s" y="%d" width="%s" height="8" class="%s"><title>token %d: %.1f s to %.1f s</title></rect>`,
			num(x0), y, num(math.Max(x1-x0, 1)), cls, i+1, float64(tk.IssuedMS)/1000, float64(tk.ExpiresMS)/1000)
	}
	ticks := func(lane int, evs []evidence.TimelineEvent) {
		y := tlTop + lane*tlLaneH + 3
		for _, e := range evs {
			cls := "ok"
			if e.Status < 200 || e.Status > 299 {
				cls = "bad"
			}
			fmt.Fprintf(&b, `<line x1="%s" x2="%s" y1="%d" y2="%d" class="%s"/>`, num(x(e.AtMS)), num(x(e.AtMS)), y, y+tlLaneH-6, cls)
		}
	}
	ticks(1, s.Requests)
	ticks(2, s.Calls)
	axisY := tlTop + 3*tlLaneH
	step := niceStep(span/1000, 8)
	for v := 0.0; v <= span/1000+1e-9; v += step {
		px := x(int64(v * 1000))
		fmt.Fprintf(&b, `<line x1="%s" x2="%s" y1="%d" y2="%d" class="lane"/><text x="%s" y="%d" class="axis">%s s</text>`,
			num(px), num(px), axisY, axisY+4, num(px), axisY+16, fmtTick(v))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
