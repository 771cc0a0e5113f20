package reports

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
)

// Chart geometry, in SVG user units; the SVG scales to the page width.
const (
	chartW      = 880
	chartH      = 240
	barsH       = 120
	chartLeft   = 60
	chartRight  = 16
	chartTop    = 12
	chartBottom = 34
)

// num formats a coordinate or value the same way every time.
func num(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// niceStep returns a round step (1, 2, 2.5 or 5 times a power of ten) near span/n.
func niceStep(span float64, n int) float64 {
	if span <= 0 {
		return 1
	}
	raw := span / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			return m * mag
		}
	}
	return 10 * mag
}

// fmtTick prints an axis value without useless decimals.
func fmtTick(v float64) string {
	if v == math.Trunc(v) {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

type axes struct {
	xmax, ymax, xstep, ystep float64
	h                        float64
}

func (a axes) x(v float64) float64 {
	return chartLeft + v/a.xmax*(chartW-chartLeft-chartRight)
}
func (a axes) y(v float64) float64 {
	return chartTop + (1-v/a.ymax)*(a.h-chartTop-chartBottom)
}

// grid draws the frame, grid lines and tick labels.
func (a axes) grid(b *strings.Builder, yLabel string) {
	plotBottom := a.h - chartBottom
	for v := 0.0; v <= a.ymax+a.ystep/1e6; v += a.ystep {
		y := a.y(v)
		fmt.Fprintf(b, `<line class="grid" x1="%s" y1="%s" x2="%s" y2="%s"/>`, num(chartLeft), num(y), num(chartW-chartRight), num(y))
		fmt.Fprintf(b, `<text class="tick" x="%s" y="%s" text-anchor="end">%s</text>`, num(chartLeft-6), num(y+4), fmtTick(v))
	}
	for v := 0.0; v <= a.xmax+a.xstep/1e6; v += a.xstep {
		x := a.x(v)
		fmt.Fprintf(b, `<line class="grid" x1="%s" y1="%s" x2="%s" y2="%s"/>`, num(x), num(chartTop), num(x), num(plotBottom))
		fmt.Fprintf(b, `<text class="tick" x="%s" y="%s" text-anchor="middle">%ss</text>`, num(x), num(plotBottom+16), fmtTick(v))
	}
	fmt.Fprintf(b, `<line class="axis" x1="%s" y1="%s" x2="%s" y2="%s"/>`, num(chartLeft), num(plotBottom), num(chartW-chartRight), num(plotBottom))
	fmt.Fprintf(b, `<text class="label" x="14" y="%s" transform="rotate(-90 14 %s)" text-anchor="middle">%s</text>`,
		num((chartTop+plotBottom)/2), num((chartTop+plotBottom)/2), template.HTMLEscapeString(yLabel))
}

func xAxes(series []SeriesPoint, bucket float64, h float64, ymaxRaw float64) axes {
	xmax := series[len(series)-1].OffsetS + bucket
	xstep := niceStep(xmax, 8)
	xmax = math.Ceil(xmax/xstep) * xstep
	ystep := niceStep(ymaxRaw, 4)
	ymax := math.Ceil(ymaxRaw/ystep) * ystep
	if ymax <= 0 {
		ymax, ystep = 1, 0.25
	}
	return axes{xmax: xmax, ymax: ymax, xstep: xstep, ystep: ystep, h: h}
}

// latencyChart draws p50, p99 and max latency per bucket as an inline SVG.
func latencyChart(series []SeriesPoint, bucket float64) template.HTML {
	if len(series) == 0 {
		return ""
	}
	ymaxRaw := 0.0
	for _, p := range series {
		ymaxRaw = math.Max(ymaxRaw, p.MaxMS)
	}
	a := xAxes(series, bucket, chartH, ymaxRaw)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-label="Latency over time: p50, p99 and max per %ss">`, chartW, chartH, fmtTick(bucket))
	a.grid(&b, "latency (ms)")
	line := func(class string, val func(SeriesPoint) float64) {
		fmt.Fprintf(&b, `<polyline class="%s" points="`, class)
		for i, p := range series {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(num(a.x(p.OffsetS + bucket/2)))
			b.WriteByte(',')
			b.WriteString(num(a.y(val(p))))
		}
		b.WriteString(`"/>`)
		if len(series) == 1 {
			fmt.Fprintf(&b, `<circle class="%s" cx="%s" cy="%s" r="3"/>`, class, num(a.x(series[0].OffsetS+bucket/2)), num(a.y(val(series[0]))))
		}
	}
	line("s-max", func(p SeriesPoint) float64 { return p.MaxMS })
	line("s-p99", func(p SeriesPoint) float64 { return p.P99MS })
	line("s-p50", func(p SeriesPoint) float64 { return p.P50MS })
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// requestsChart draws requests per bucket as bars, the failed part in red.
func requestsChart(series []SeriesPoint, bucket float64) template.HTML {
	if len(series) == 0 {
		return ""
	}
	ymaxRaw := 0.0
	for _, p := range series {
		ymaxRaw = math.Max(ymaxRaw, float64(p.Requests))
	}
	a := xAxes(series, bucket, barsH, ymaxRaw)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-label="Requests per %ss, failures in red">`, chartW, barsH, fmtTick(bucket))
	a.grid(&b, "requests")
	w := math.Max(a.x(bucket)-a.x(0)-1, 0.5)
	for _, p := range series {
		x := a.x(p.OffsetS) + 0.5
		ok := float64(p.Requests - p.Errors)
		fmt.Fprintf(&b, `<rect class="bar-ok" x="%s" y="%s" width="%s" height="%s"/>`, num(x), num(a.y(ok)), num(w), num(a.y(0)-a.y(ok)))
		if p.Errors > 0 {
			fmt.Fprintf(&b, `<rect class="bar-err" x="%s" y="%s" width="%s" height="%s"/>`, num(x), num(a.y(float64(p.Requests))), num(w), num(a.y(ok)-a.y(float64(p.Requests))))
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
