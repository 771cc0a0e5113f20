//go:build race

package load

// raceDetector says the tests run under the race detector, which changes what the heap holds.
const raceDetector = true
