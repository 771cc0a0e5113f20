package reports

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"

	vegeta "github.com/tsenart/vegeta/v12/lib"
	"github.com/tsenart/vegeta/v12/lib/plot"

	"github.com/authzcheck/authzcheck/internal/evidence"
)

// WritePlot renders Vegeta's latency plot of the results files (any of Vegeta's encodings) to
// path, atomically: the plot of `report merge`, one series per attack name and outcome. Bodies
// and headers are dropped as results are read.
func WritePlot(path, title string, files []string) error {
	p := plot.New(plot.Title(title), plot.Downsample(4000))
	for _, name := range files {
		if err := addToPlot(p, name); err != nil {
			return err
		}
	}
	p.Close()
	return evidence.WriteAtomic(path, 0o644, func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		if _, err := p.WriteTo(bw); err != nil {
			return fmt.Errorf("plot: %w", err)
		}
		return bw.Flush()
	})
}

func addToPlot(p *plot.Plot, name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || fi.Size() == 0 {
		return err
	}
	dec := vegeta.DecoderFor(f)
	if dec == nil {
		return fmt.Errorf("%s: not a Vegeta results file", name)
	}
	for {
		var r vegeta.Result
		if err := dec.Decode(&r); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		r.Body, r.Headers = nil, nil
		if err := p.Add(&r); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
}
