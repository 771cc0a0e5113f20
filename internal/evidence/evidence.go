// Package evidence is the schema of authzcheck's evidence bundle: the types every part of the
// harness writes or reads (summary.json, transcripts, the run info of manifest.json, waivers,
// load/summary.json), the names of the bundle's files, and the one atomic file writer they are
// all written with. It sits at the bottom of the module and imports nothing of it, so that the
// conformance runner (steps), the load generator (load) and the sealing and rendering of a
// bundle (reports) agree on one schema without importing each other.
//
// Fields may be added to these types; none may be renamed: summary.json, manifest.json and
// load/summary.json are public interfaces (CHECKS.md, README).
package evidence

// Status of one check in summary.json.
type Status string

// The statuses of CHECKS.md ("summary.json").
const (
	StatusPassed  Status = "passed"
	StatusFailed  Status = "failed"
	StatusSkipped Status = "skipped"
	StatusWaived  Status = "waived"
)

// The verdicts of a run (Summary.Result, RunInfo.Result, LoadSummary.Result): the words of a
// check's status, as untyped constants so that they compare with a string field as well as
// with a Status.
const (
	Passed = "passed"
	Failed = "failed"
)

// Run kinds (RunInfo.Kind).
const (
	KindConformance = "conformance"
	KindLoad        = "load"
)

// Names of the files of a bundle, relative to its directory, slash-separated. SHA256SUMS covers
// every other file; manifest.json lists every file but itself and the two SHA256SUMS files.
const (
	SumsFile       = "SHA256SUMS"
	SignatureFile  = "SHA256SUMS.sig"
	ManifestFile   = "manifest.json"
	SummaryFile    = "summary.json"
	ReportFile     = "report.html"
	CucumberFile   = "cucumber.json"
	JUnitFile      = "junit.xml"
	TranscriptsDir = "transcripts"

	// LoadDir holds a load run's files; inside it, ResultsFile, LoadSummaryName and PlotFile.
	LoadDir         = "load"
	ResultsFile     = "results.bin"
	LoadSummaryName = "summary.json"
	PlotFile        = "plot.html"

	// Paths of a load run's files inside a bundle.
	LoadResultsFile = LoadDir + "/" + ResultsFile
	LoadSummaryFile = LoadDir + "/" + LoadSummaryName
	LoadPlotFile    = LoadDir + "/" + PlotFile
)
