package reports_test

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/internal/evidence"
	"github.com/authzcheck/authzcheck/reports"
	"github.com/authzcheck/authzcheck/reports/reportstest"
)

// sealedConformance writes a sealed conformance bundle at root/ev and returns its path.
func sealedConformance(t *testing.T, root string) string {
	t.Helper()
	dir := filepath.Join(root, "ev")
	require.NoError(t, os.Mkdir(dir, 0o755))
	require.NoError(t, reportstest.WriteBundle(dir, false, nil))
	return dir
}

// names lists a directory's entries.
func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

func requireVerifies(t *testing.T, dir string) *reports.Verification {
	t.Helper()
	v, err := reports.Verify(dir, nil)
	require.NoError(t, err)
	require.True(t, v.OK(), "problems: %v", v.Problems)
	return v
}

func TestOpenStartsANewBundleInAnAbsentOrEmptyDirectory(t *testing.T) {
	for _, tc := range []struct {
		name   string
		create bool
	}{{"absent directory, parents created", false}, {"empty directory", true}} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, "evidence", "run1")
			if tc.create {
				require.NoError(t, os.MkdirAll(dir, 0o755))
			}
			st, err := reports.Open(dir, evidence.KindConformance)
			require.NoError(t, err)
			defer st.Close()
			assert.NotEqual(t, dir, st.Dir(), "the run writes beside the bundle")
			assert.Equal(t, filepath.Dir(dir), filepath.Dir(st.Dir()))
			_, err = reportstest.WriteConformance(st.Dir())
			require.NoError(t, err)
			if !tc.create {
				assert.NoDirExists(t, dir, "nothing is in place before Seal")
			}
			require.NoError(t, st.Seal(reportstest.ConformanceRun(), reportstest.Options(nil)))
			requireVerifies(t, dir)
			assert.Equal(t, []string{"run1"}, names(t, filepath.Join(root, "evidence")), "no staging directory left")
			fi, err := os.Stat(dir)
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o755), fi.Mode().Perm())
		})
	}
}

func TestOpenRefusesWhatTheHarnessDidNotWrite(t *testing.T) {
	cases := []struct {
		name  string
		kind  string
		setup func(t *testing.T, root string) string // returns the --out directory
		want  []string
	}{
		{"a file", evidence.KindLoad, func(t *testing.T, root string) string {
			p := filepath.Join(root, "ev")
			require.NoError(t, os.WriteFile(p, []byte("x"), 0o644))
			return p
		}, []string{"is a file"}},
		{"a directory of foreign files", evidence.KindConformance, func(t *testing.T, root string) string {
			p := filepath.Join(root, "ev")
			require.NoError(t, os.MkdirAll(filepath.Join(p, "load"), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(p, "notes.txt"), []byte("mine"), 0o644))
			return p
		}, []string{"not a sealed authzcheck bundle", "no SHA256SUMS"}},
		{"a sealed bundle with an added file", evidence.KindLoad, func(t *testing.T, root string) string {
			p := sealedConformance(t, root)
			require.NoError(t, os.WriteFile(filepath.Join(p, "extra.json"), []byte("{}"), 0o644))
			return p
		}, []string{"added: extra.json"}},
		{"a sealed bundle with an altered file", evidence.KindLoad, func(t *testing.T, root string) string {
			p := sealedConformance(t, root)
			require.NoError(t, os.WriteFile(filepath.Join(p, "transcripts", "0002.json"), []byte("{}"), 0o644))
			return p
		}, []string{"altered: transcripts/0002.json"}},
		{"a sealed bundle with a removed file", evidence.KindLoad, func(t *testing.T, root string) string {
			p := sealedConformance(t, root)
			require.NoError(t, os.Remove(filepath.Join(p, "junit.xml")))
			return p
		}, []string{"missing: junit.xml"}},
		{"a second conformance run", evidence.KindConformance, sealedConformance, []string{"already holds a conformance run"}},
		{"a second load run", evidence.KindLoad, func(t *testing.T, root string) string {
			p := filepath.Join(root, "ev")
			require.NoError(t, os.Mkdir(p, 0o755))
			require.NoError(t, reportstest.WriteBundle(p, true, nil))
			return p
		}, []string{"already holds load results"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			dir := tc.setup(t, root)
			before := reportstest.Snapshot(t, root)
			st, err := reports.Open(dir, tc.kind)
			require.Error(t, err)
			assert.Nil(t, st)
			assert.True(t, errors.Is(err, reports.ErrRefused), "a refusal: %v", err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.Equal(t, before, reportstest.Snapshot(t, root), "nothing written")
		})
	}
}

// A run that fails part-way (it wrote, then never sealed), or whose seal is refused, leaves the
// bundle as it was, and no staging directory.
func TestAFailedRunLeavesTheBundleAsItWas(t *testing.T) {
	cases := []struct {
		name string
		fail func(t *testing.T, st *reports.Stage)
	}{
		{"the run stops before sealing", func(t *testing.T, st *reports.Stage) {
			require.NoError(t, reportstest.WriteLoad(st.Dir()))
		}},
		{"the seal is refused", func(t *testing.T, st *reports.Stage) {
			require.NoError(t, reportstest.WriteLoad(st.Dir()))
			// A file holding a client's secret: Finalize refuses to seal it.
			require.NoError(t, os.WriteFile(filepath.Join(st.Dir(), "load", "leak.txt"), []byte("secret=distinctive-s3cret"), 0o644))
			opts := reportstest.Options(nil)
			opts.Credentials = []reports.Credential{{ID: reportstest.ClientID, Secret: "distinctive-s3cret"}}
			err := st.Seal(reportstest.LoadRun(), opts)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "load/leak.txt")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			dir := sealedConformance(t, root)
			before := reportstest.Snapshot(t, root)
			st, err := reports.Open(dir, evidence.KindLoad)
			require.NoError(t, err)
			tc.fail(t, st)
			require.NoError(t, st.Close())
			assert.Equal(t, before, reportstest.Snapshot(t, root), "the bundle is as it was, and nothing is beside it")
			requireVerifies(t, dir)
		})
	}
}

// Conformance, then load into the same bundle: both runs are in it, and it verifies. The files
// the load run's staging copy shares with the first bundle are never changed in place.
func TestConformanceThenLoadIntoOneBundle(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "ev")
	st, err := reports.Open(dir, evidence.KindConformance)
	require.NoError(t, err)
	_, err = reportstest.WriteConformance(st.Dir())
	require.NoError(t, err)
	require.NoError(t, st.Seal(reportstest.ConformanceRun(), reportstest.Options(nil)))
	require.NoError(t, st.Close())
	first := reportstest.Snapshot(t, dir)

	st, err = reports.Open(dir, evidence.KindLoad)
	require.NoError(t, err)
	defer st.Close()
	assert.Equal(t, first, reportstest.Snapshot(t, st.Dir()), "the staging directory is a copy of the bundle")
	require.NoError(t, reportstest.WriteLoad(st.Dir()))
	require.NoError(t, st.Seal(reportstest.LoadRun(), reportstest.Options(nil)))

	v := requireVerifies(t, dir)
	assert.Greater(t, v.Files, len(first)-2)
	b, err := reports.ReadBundle(dir)
	require.NoError(t, err)
	require.NotNil(t, b.Manifest)
	require.Len(t, b.Manifest.Runs, 2)
	assert.Equal(t, evidence.KindConformance, b.Manifest.Runs[0].Kind)
	assert.Equal(t, evidence.KindLoad, b.Manifest.Runs[1].Kind)
	assert.NotNil(t, b.Summary)
	assert.NotNil(t, b.Load)
	assert.Equal(t, []string{"ev"}, names(t, root), "no staging or replaced directory left")
	for name, data := range first {
		if name == evidence.ManifestFile || name == evidence.ReportFile || name == evidence.SumsFile {
			continue // rewritten by the seal, by rename
		}
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err == nil {
			assert.Equal(t, data, string(got), "%s unchanged", name)
		}
	}
}

// A bundle changed while the run was under way is not replaced: the new sealed bundle is left
// beside it, named in the error.
func TestSealLeavesTheNewBundleAsideWhenTheOldOneChangedDuringTheRun(t *testing.T) {
	root := t.TempDir()
	dir := sealedConformance(t, root)
	st, err := reports.Open(dir, evidence.KindLoad)
	require.NoError(t, err)
	defer st.Close()
	require.NoError(t, reportstest.WriteLoad(st.Dir()))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "late.txt"), []byte("added during the run"), 0o644))
	before := reportstest.Snapshot(t, dir)

	err = st.Seal(reportstest.LoadRun(), reportstest.Options(nil))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "changed during the run")
	assert.Contains(t, err.Error(), st.Dir())
	assert.Equal(t, before, reportstest.Snapshot(t, dir), "the bundle is not touched")
	requireVerifies(t, st.Dir())
	require.NoError(t, st.Close())
	assert.DirExists(t, st.Dir(), "the new sealed bundle stays for the user")
}

// "--out ." stages beside the current directory, never inside it.
func TestOpenTheCurrentDirectoryStagesBesideIt(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "ev")
	require.NoError(t, os.Mkdir(dir, 0o755))
	t.Chdir(dir)
	st, err := reports.Open(".", evidence.KindConformance)
	require.NoError(t, err)
	defer st.Close()
	assert.Equal(t, root, filepath.Dir(st.Dir()))
	_, err = reportstest.WriteConformance(st.Dir())
	require.NoError(t, err)
	require.NoError(t, st.Seal(reportstest.ConformanceRun(), reportstest.Options(nil)))
	requireVerifies(t, dir)
	assert.Equal(t, []string{"ev"}, names(t, root))
}
