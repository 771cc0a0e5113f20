//go:build e2e

package reports_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/internal/catalog"
	"github.com/authzcheck/authzcheck/internal/evidence"
	"github.com/authzcheck/authzcheck/reports"
	"github.com/authzcheck/authzcheck/reports/reportstest"
)

// findChromium returns Debian's chromium (or $CHROMIUM). Locally a missing browser skips the
// test with a clear message; in CI (CI=true) it fails, since .ci/run installs it.
func findChromium(t *testing.T) string {
	t.Helper()
	candidates := []string{"/usr/bin/chromium", "chromium", "chromium-browser"}
	if c := os.Getenv("CHROMIUM"); c != "" {
		candidates = []string{c} // only the one asked for
	}
	for _, c := range candidates {
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	msg := "chromium not found: install Debian's package (apt-get install -y chromium) or set CHROMIUM=/path/to/chromium"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + "; CI must run the browser test")
	}
	t.Skip(msg)
	return ""
}

// artifactDir is where the screenshot and PDF go: $E2E_ARTIFACTS, or evidence/e2e/ at the
// repository root (git-ignored).
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("E2E_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "evidence", "e2e")
	}
	abs, err := filepath.Abs(dir)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(abs, 0o755))
	return abs
}

func TestE2EReportInChromium(t *testing.T) {
	bin := findChromium(t)
	bundle := t.TempDir()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	require.NoError(t, reportstest.WriteBundle(bundle, true, priv))
	reportPath := filepath.Join(bundle, evidence.ReportFile)
	b, err := reports.ReadBundle(bundle)
	require.NoError(t, err)

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	// Bound the whole test without a timeout on the first Run's context (it would stop the
	// browser): a watchdog cancels the context instead.
	watchdog := time.AfterFunc(2*time.Minute, cancel)
	defer watchdog.Stop()

	// Every request the page makes is recorded: a self-contained report makes none but its own file.
	var mu sync.Mutex
	var requested []string
	require.NoError(t, chromedp.Do(ctx, call(network.Enable, network.EnableParams{})))
	require.NoError(t, chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			mu.Lock()
			requested = append(requested, e.Request.URL)
			mu.Unlock()
		}
	}))

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate("file://"+reportPath),
		chromedp.WaitVisible(chromedp.CSS("#verdict")),
	))
	text := func(sel string) string {
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		require.NoError(t, err, sel)
		return v
	}
	eval := func(js string) float64 {
		v, err := chromedp.Run(ctx, chromedp.Evaluate[float64](js))
		require.NoError(t, err, js)
		return v
	}
	title, err := chromedp.Run(ctx, chromedp.Title())
	require.NoError(t, err)
	s := b.Summary.Counts
	failedID := reportstest.FailedCheck

	assert.Contains(t, title, "authzcheck evidence")
	assert.Equal(t, "FAILED", strings.TrimSpace(text("#verdict .verdict")), "banner (upper-cased by CSS)")
	assert.Contains(t, text("#verdict .explain"), reportstest.TargetURL)
	counts := text("#counts")
	for _, want := range []string{fmt.Sprint(s.Total), "TOTAL", fmt.Sprint(s.Passed), "PASSED", "FAILED MUST"} {
		assert.Contains(t, counts, want)
	}
	run := text("#run")
	for _, want := range []string{"derbysoft", reportstest.ClientID, "v0.16.0", "v12.13.0", "2026-01-02 03:04:05 UTC", "conformance", "load"} {
		assert.Contains(t, run, want)
	}
	areas := map[string]bool{}
	for _, c := range b.Summary.Checks {
		cat, ok := catalog.Lookup(c.ID)
		require.True(t, ok, "fixture check %s is in the catalogue", c.ID)
		areas[cat.Area] = true
	}
	assert.Equal(t, float64(len(areas)), eval(`document.querySelectorAll("section.area").length`), "one section per catalogue area that has checks in the bundle")
	assert.Equal(t, float64(len(b.Summary.Checks)), eval(`document.querySelectorAll("section.area .check").length`), "every check is shown")
	assert.Equal(t, float64(1), eval(`document.querySelectorAll("script").length`), "the hostile reason did not inject a script")
	assert.Equal(t, "failed", text("#check-"+failedID+" .pill"))
	assert.Contains(t, text("#check-"+failedID+" .reason"), reportstest.HostileReason, "shown as text")
	cat, _ := catalog.Lookup(failedID)
	assert.Contains(t, text("#check-"+failedID+" .check-meta"), cat.Source, "RFC reference")
	load := text("#load")
	for _, want := range []string{"Latency over time", "p99.9", "Token policy and cache", "tokens.policy", "reissue", "Thresholds"} {
		assert.Contains(t, load, want)
	}
	assert.Equal(t, float64(30), eval(`document.querySelector("#load polyline.s-p99").getAttribute("points").split(" ").length`),
		"one point a second for the 30 s fixture run")

	// Print: the print stylesheet shows a collapsed exchange's content without any script.
	// The first collapsed exchange: on screen only its summary line shows; in print all of it.
	extra := `(function(){const d=document.querySelector("details.tx:not([open])");
		return d.getBoundingClientRect().height - d.querySelector("summary").getBoundingClientRect().height})()`
	assert.Less(t, eval(extra), float64(5), "collapsed on screen: the summary line alone")
	require.NoError(t, chromedp.Do(ctx, call(emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"})))
	assert.Greater(t, eval(extra), float64(100), "print styles expand collapsed exchanges")
	printShot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(ctx, call(emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{})))

	screenshot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	pdf, err := chromedp.Run(ctx, chromedp.PrintToPDF(chromedp.PDFPaper(chromedp.PaperA4)))
	require.NoError(t, err)
	top, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	require.NoError(t, err)
	loadShot, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS("#load")))
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#check-"+failedID+" summary"))))
	checkShot, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS("#area-"+cat.Area)))
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#check-"+failedID+" summary"))))
	out := artifactDir(t)
	shot := filepath.Join(out, "report.png")
	require.NoError(t, os.WriteFile(shot, screenshot, 0o644))
	for name, img := range map[string][]byte{"report-top.png": top, "report-load.png": loadShot, "report-failed-area.png": checkShot, "report-print.png": printShot} {
		require.NoError(t, os.WriteFile(filepath.Join(out, name), img, 0o644))
	}
	pdfPath := filepath.Join(out, "report.pdf")
	require.NoError(t, os.WriteFile(pdfPath, pdf, 0o644))
	t.Logf("screenshot: %s (%d bytes); PDF: %s (%d bytes)", shot, len(screenshot), pdfPath, len(pdf))
	assert.True(t, strings.HasPrefix(string(screenshot), "\x89PNG"), "screenshot is a PNG")
	assert.True(t, strings.HasPrefix(string(pdf), "%PDF"), "prints to PDF")

	// The buttons work.
	details := eval(`document.querySelectorAll("details.tx").length`)
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#expand-all"))))
	assert.Equal(t, details, eval(`document.querySelectorAll("details.tx[open]").length`), "Expand all opens every exchange")
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#collapse-all"))))
	assert.Zero(t, eval(`document.querySelectorAll("details.tx[open]").length`), "Collapse all closes them")
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#only-failed"))))
	assert.Equal(t, float64(s.Failed), eval(`Array.from(document.querySelectorAll(".check")).filter(e => e.offsetParent !== null).length`),
		"Only failed hides the rest")

	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, requested, "network events were recorded")
	for _, u := range requested {
		assert.True(t, strings.HasPrefix(u, "file://") || strings.HasPrefix(u, "data:") || strings.HasPrefix(u, "about:"),
			"the report fetched %s", u)
	}
}

// call makes an action that sends one protocol command and ignores its result.
func call[P, R any](cmd cdp.Command[P, R], params P) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, cmd, params)
		return err
	})
}
