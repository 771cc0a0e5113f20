//go:build race

package client_test

// raceDetector says the tests run under the race detector. The reference clients are other
// processes, which the detector does not watch; it only slows the harness judging their timing.
const raceDetector = true
