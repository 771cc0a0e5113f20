package reports_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/internal/buildinfo"
	"github.com/authzcheck/authzcheck/internal/evidence"
	"github.com/authzcheck/authzcheck/internal/redact"
	"github.com/authzcheck/authzcheck/reports"
	"github.com/authzcheck/authzcheck/reports/reportstest"
)

func readManifest(t *testing.T, dir string) reports.Manifest {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, evidence.ManifestFile))
	require.NoError(t, err)
	var m reports.Manifest
	require.NoError(t, json.Unmarshal(data, &m))
	return m
}

func newKey(t *testing.T) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	return pub, priv
}

func TestFinalizeWritesManifestReportAndSums(t *testing.T) {
	dir := t.TempDir()
	sum, err := reportstest.WriteConformance(dir)
	require.NoError(t, err)
	run := reportstest.ConformanceRun()
	require.NoError(t, reports.Finalize(dir, run, reportstest.Options(nil)))

	for _, f := range []string{evidence.ManifestFile, evidence.ReportFile, evidence.SumsFile} {
		assert.FileExists(t, filepath.Join(dir, f))
	}
	assert.NoFileExists(t, filepath.Join(dir, evidence.SignatureFile), "unsigned without a key")

	m := readManifest(t, dir)
	assert.Equal(t, reports.ManifestSchema, m.Schema)
	assert.Equal(t, run.RunID, m.RunID)
	assert.Equal(t, run.Started, m.Started)
	assert.Equal(t, run.Finished, m.Finished)
	assert.Equal(t, "UTC", m.Started.Location().String())
	assert.Equal(t, "failed", m.Result, "the fixture fails a MUST check")
	assert.Equal(t, "v0.0.0-fixture", m.Harness.Version)
	assert.Equal(t, "v0.16.0", m.Harness.Godog)
	assert.Equal(t, "v12.13.0", m.Harness.Vegeta)
	assert.Equal(t, run.Profile, m.Profile)
	assert.Equal(t, run.Tags, m.Tags)
	assert.Equal(t, run.Seed, m.Seed)
	assert.Equal(t, run.Waivers, m.Waivers)
	assert.Equal(t, run.TargetURL, m.TargetURL)
	assert.Equal(t, run.ClientID, m.ClientID)
	require.NotNil(t, m.Counts)
	assert.Equal(t, sum.Counts, *m.Counts)
	require.Len(t, m.Runs, 1)
	assert.Equal(t, "failed", m.Runs[0].Result, "taken from summary.json")

	// Every file but the manifest and the seal is listed with its true hash and size.
	listed := map[string]reports.FileEntry{}
	for _, f := range m.Files {
		listed[f.Path] = f
	}
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		require.NoError(t, err)
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		switch rel {
		case evidence.ManifestFile, evidence.SumsFile, evidence.SignatureFile:
			assert.NotContains(t, listed, rel)
			return nil
		}
		require.Contains(t, listed, rel)
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		assert.Equal(t, int64(len(data)), listed[rel].Size, rel)
		assert.Len(t, listed[rel].SHA256, 64, rel)
		assert.False(t, strings.HasSuffix(rel, ".tmp"), "temporary file left behind: %s", rel)
		return nil
	})
	require.NoError(t, err)
	assert.Contains(t, listed, evidence.ReportFile)
	assert.Contains(t, listed, "transcripts/0001.json")

	v, err := reports.Verify(dir, nil)
	require.NoError(t, err)
	assert.Empty(t, v.Problems)
	assert.Equal(t, len(m.Files)+1, v.Files, "SHA256SUMS covers the manifest too")
}

func TestSHA256SUMSIsCheckedBySha256sum(t *testing.T) {
	bin, err := exec.LookPath("sha256sum")
	if err != nil {
		t.Skip("sha256sum not installed")
	}
	dir := t.TempDir()
	require.NoError(t, reportstest.WriteBundle(dir, true, nil))
	cmd := exec.Command(bin, "--check", "--strict", evidence.SumsFile)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	assert.Contains(t, string(out), "manifest.json: OK")
	assert.Contains(t, string(out), "load/results.bin: OK")
	assert.NotContains(t, string(out), "SHA256SUMS:")

	sums, err := os.ReadFile(filepath.Join(dir, evidence.SumsFile))
	require.NoError(t, err)
	entries, err := reports.ParseSums(sums)
	require.NoError(t, err)
	for i := 1; i < len(entries); i++ {
		assert.Less(t, entries[i-1].Path, entries[i].Path, "sorted")
	}
}

func TestSignedBundleVerifiesWithItsKeyOnly(t *testing.T) {
	pub, priv := newKey(t)
	other, _ := newKey(t)
	dir := t.TempDir()
	require.NoError(t, reportstest.WriteBundle(dir, false, priv))
	require.FileExists(t, filepath.Join(dir, evidence.SignatureFile))

	v, err := reports.Verify(dir, pub)
	require.NoError(t, err)
	assert.Empty(t, v.Problems)
	assert.True(t, v.SignatureChecked)

	v, err = reports.Verify(dir, other)
	require.NoError(t, err)
	require.Len(t, v.Problems, 1)
	assert.Equal(t, evidence.SignatureFile, v.Problems[0].Path)
	assert.Equal(t, "bad signature", v.Problems[0].Kind)

	// Without a key the hashes still verify, and the signature is reported as present.
	v, err = reports.Verify(dir, nil)
	require.NoError(t, err)
	assert.Empty(t, v.Problems)
	assert.True(t, v.Signed)
	assert.False(t, v.SignatureChecked)
}

func TestSignatureVerifiesWithOpenSSL(t *testing.T) {
	bin, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	dir := t.TempDir()
	keyDir := t.TempDir()
	_, pubPath, err := reports.GenerateKeyPair(keyDir)
	require.NoError(t, err)
	priv, err := reports.ReadPrivateKeyFile(filepath.Join(keyDir, reports.PrivateKeyFile))
	require.NoError(t, err)
	require.NoError(t, reportstest.WriteBundle(dir, false, priv))
	cmd := exec.Command(bin, "pkeyutl", "-verify", "-pubin", "-inkey", pubPath, "-rawin",
		"-in", filepath.Join(dir, evidence.SumsFile), "-sigfile", filepath.Join(dir, evidence.SignatureFile))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	assert.Contains(t, string(out), "Signature Verified Successfully")
}

func TestVerifyNamesEveryChangedFile(t *testing.T) {
	pub, priv := newKey(t)
	cases := []struct {
		name   string
		change func(t *testing.T, dir string)
		path   string
		kind   string
	}{
		{"should report a transcript altered by one byte", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "transcripts", "0003.json")
			data, err := os.ReadFile(p)
			require.NoError(t, err)
			data[10] ^= 1
			require.NoError(t, os.WriteFile(p, data, 0o644))
		}, "transcripts/0003.json", "altered"},
		{"should report a missing summary", func(t *testing.T, dir string) {
			require.NoError(t, os.Remove(filepath.Join(dir, evidence.SummaryFile)))
		}, evidence.SummaryFile, "missing"},
		{"should report an added file", func(t *testing.T, dir string) {
			require.NoError(t, os.WriteFile(filepath.Join(dir, "transcripts", "9999.json"), []byte("{}"), 0o644))
		}, "transcripts/9999.json", "added"},
		{"should report an altered load result", func(t *testing.T, dir string) {
			f, err := os.OpenFile(filepath.Join(dir, "load", "results.bin"), os.O_APPEND|os.O_WRONLY, 0)
			require.NoError(t, err)
			_, err = f.Write([]byte{0})
			require.NoError(t, err)
			require.NoError(t, f.Close())
		}, "load/results.bin", "altered"},
		{"should report a rewritten SHA256SUMS by its signature", func(t *testing.T, dir string) {
			p := filepath.Join(dir, evidence.SumsFile)
			data, err := os.ReadFile(p)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(p, append(data, []byte(strings.Repeat("0", 64)+"  extra.txt\n")...), 0o644))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "extra.txt"), nil, 0o644))
		}, evidence.SignatureFile, "bad signature"},
		{"should report a missing signature", func(t *testing.T, dir string) {
			require.NoError(t, os.Remove(filepath.Join(dir, evidence.SignatureFile)))
		}, evidence.SignatureFile, "missing"},
		{"should report a missing SHA256SUMS", func(t *testing.T, dir string) {
			require.NoError(t, os.Remove(filepath.Join(dir, evidence.SumsFile)))
		}, evidence.SumsFile, "missing"},
		{"should report a malformed SHA256SUMS", func(t *testing.T, dir string) {
			require.NoError(t, os.WriteFile(filepath.Join(dir, evidence.SumsFile), []byte("nonsense\n"), 0o644))
		}, evidence.SumsFile, "malformed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, reportstest.WriteBundle(dir, true, priv))
			v, err := reports.Verify(dir, pub)
			require.NoError(t, err)
			require.Empty(t, v.Problems, "intact before the change")

			tc.change(t, dir)
			v, err = reports.Verify(dir, pub)
			require.NoError(t, err)
			require.False(t, v.OK())
			var got []string
			for _, p := range v.Problems {
				got = append(got, p.String())
				if p.Path == tc.path && p.Kind == tc.kind {
					return
				}
			}
			t.Fatalf("want a %q problem for %s; got %q", tc.kind, tc.path, got)
		})
	}
}

func TestLoadRunAddsToConformanceBundle(t *testing.T) {
	pub, priv := newKey(t)
	dir := t.TempDir()
	_, err := reportstest.WriteConformance(dir)
	require.NoError(t, err)
	require.NoError(t, reports.Finalize(dir, reportstest.ConformanceRun(), reportstest.Options(priv)))
	firstSums, err := os.ReadFile(filepath.Join(dir, evidence.SumsFile))
	require.NoError(t, err)
	firstReport, err := os.ReadFile(filepath.Join(dir, evidence.ReportFile))
	require.NoError(t, err)
	assert.NotContains(t, string(firstReport), `id="load"`)

	require.NoError(t, reportstest.WriteLoad(dir))
	require.NoError(t, reports.Finalize(dir, reportstest.LoadRun(), reportstest.Options(priv)))

	m := readManifest(t, dir)
	require.Len(t, m.Runs, 2)
	assert.Equal(t, evidence.KindConformance, m.Runs[0].Kind)
	assert.Equal(t, evidence.KindLoad, m.Runs[1].Kind)
	assert.Equal(t, reportstest.ConformanceRun().RunID, m.RunID, "the conformance run stays the primary run")
	assert.Equal(t, reportstest.ConformanceRun().Started, m.Started)
	assert.Equal(t, reportstest.LoadRun().Finished, m.Finished)
	assert.NotEmpty(t, m.Runs[1].PreviousSums, "the load run chains to the seal it added to")
	require.NotNil(t, m.Load)
	assert.Equal(t, int64(reportstest.LoadRequests), m.Load.Requests)
	paths := map[string]bool{}
	for _, f := range m.Files {
		paths[f.Path] = true
	}
	assert.True(t, paths["load/results.bin"] && paths["load/summary.json"] && paths["summary.json"])

	sums, err := os.ReadFile(filepath.Join(dir, evidence.SumsFile))
	require.NoError(t, err)
	assert.NotEqual(t, firstSums, sums, "re-hashed")
	report, err := os.ReadFile(filepath.Join(dir, evidence.ReportFile))
	require.NoError(t, err)
	assert.Contains(t, string(report), `id="load"`, "the report now has the load section")

	v, err := reports.Verify(dir, pub)
	require.NoError(t, err)
	assert.Empty(t, v.Problems)

	// Sealing the same run again replaces it rather than listing it twice.
	require.NoError(t, reports.Finalize(dir, reportstest.LoadRun(), reportstest.Options(priv)))
	assert.Len(t, readManifest(t, dir).Runs, 2)
}

func TestFinalizeRefusesToBlessAFileChangedSinceTheSeal(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, reportstest.WriteBundle(dir, false, nil))
	before, err := os.ReadFile(filepath.Join(dir, evidence.SumsFile))
	require.NoError(t, err)
	// Someone edits the conformance verdict; a load run then adds to the bundle.
	p := filepath.Join(dir, evidence.SummaryFile)
	data, err := os.ReadFile(p)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(p, []byte(strings.Replace(string(data), `"failed"`, `"passed"`, 1)), 0o644))
	require.NoError(t, reportstest.WriteLoad(dir))

	err = reports.Finalize(dir, reportstest.LoadRun(), reportstest.Options(nil))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "summary.json")
	assert.Contains(t, err.Error(), "changed since it was sealed")
	after, err := os.ReadFile(filepath.Join(dir, evidence.SumsFile))
	require.NoError(t, err)
	assert.Equal(t, before, after, "the old seal is left as it was")
}

func TestFinalizeRefusesUnredactedEvidence(t *testing.T) {
	const secret = "s3cr3t+/=%Zq9-distinctive"
	const clientID = "demo-distributor"
	signedJWT := "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJkZW1vLWRpc3RyaWJ1dG9yIn0.MEUCIQDabcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	cases := []struct {
		name string
		leak string
		want string
	}{
		{"should refuse the raw secret", `{"body":"client_secret=` + secret + `"}`, "client secret"},
		{"should refuse the form-encoded secret", `{"body":"client_secret=s3cr3t%2B%2F%3D%25Zq9-distinctive"}`, "client secret"},
		{"should refuse the secret inside a Basic credential", `{"h":"Basic ` + base64.StdEncoding.EncodeToString([]byte(clientID+":"+secret)) + `"}`, "client secret"},
		{"should refuse a signed JWT", `{"access_token":"` + signedJWT + `"}`, "signed JWT"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := reportstest.WriteConformance(dir)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(dir, "transcripts", "0002.json"), []byte(tc.leak), 0o644))
			run := reportstest.ConformanceRun()
			run.ClientID = clientID
			opts := reportstest.Options(nil)
			opts.Secrets = []string{secret}
			err = reports.Finalize(dir, run, opts)
			require.ErrorIs(t, err, reports.ErrUnredacted)
			assert.Contains(t, err.Error(), "transcripts/0002.json")
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), secret)
			assert.NotContains(t, err.Error(), signedJWT)
			for _, f := range []string{evidence.ManifestFile, evidence.ReportFile, evidence.SumsFile} {
				assert.NoFileExists(t, filepath.Join(dir, f), "nothing sealed")
			}
		})
	}
	t.Run("should seal fingerprints, masks and unsigned tokens", func(t *testing.T) {
		dir := t.TempDir()
		_, err := reportstest.WriteConformance(dir)
		require.NoError(t, err)
		ok := `{"a":"Basic ***","t":"[token sha256:0123456789ab len=812]","none":"eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."}`
		require.NoError(t, os.WriteFile(filepath.Join(dir, "transcripts", "0002.json"), []byte(ok), 0o644))
		opts := reportstest.Options(nil)
		opts.Secrets = []string{secret}
		require.NoError(t, reports.Finalize(dir, reportstest.ConformanceRun(), opts))
	})
}

func TestFinalizeRefusesASecretInRunInfo(t *testing.T) {
	const secret = "s3cr3t+/=%Zq9-distinctive"
	dir := t.TempDir()
	_, err := reportstest.WriteConformance(dir)
	require.NoError(t, err)
	run := reportstest.ConformanceRun()
	run.TargetURL = "https://demo:" + url.QueryEscape(secret) + "@auth.example/token"
	opts := reportstest.Options(nil)
	opts.Credentials = []redact.Credential{{ID: "demo", Secret: secret}}
	err = reports.Finalize(dir, run, opts)
	require.ErrorIs(t, err, reports.ErrUnredacted)
	assert.NotContains(t, err.Error(), secret)
	assert.NotContains(t, err.Error(), url.QueryEscape(secret))
	for _, f := range []string{evidence.ManifestFile, evidence.ReportFile, evidence.SumsFile} {
		assert.NoFileExists(t, filepath.Join(dir, f), "nothing sealed or written")
	}

	// A waiver's reason is in manifest.json: scanned too.
	run = reportstest.ConformanceRun()
	run.Waivers = append(run.Waivers, evidence.Waiver{ID: "TOK-001", Reason: "ticket says the secret is " + secret})
	err = reports.Finalize(dir, run, opts)
	require.ErrorIs(t, err, reports.ErrUnredacted)
	assert.NoFileExists(t, filepath.Join(dir, evidence.SumsFile))
}

// Each client's secret is searched for inside the Basic credential built from its own ID, even
// when the IDs differ in length modulo 3 (so base64 of the secret alone does not appear in it).
func TestFinalizeFindsTheSecondClientsBasicCredential(t *testing.T) {
	const id1, secret1 = "demo-distributor", "first-secret-0001"
	const id2, secret2 = "c2x", "second-secret-002"
	basic2 := base64.StdEncoding.EncodeToString([]byte(id2 + ":" + secret2))
	for _, f := range redact.Forms(id1, secret1, secret2) {
		require.NotContains(t, basic2, f, "the fixture must not be caught through client 1's ID")
	}
	dir := t.TempDir()
	_, err := reportstest.WriteConformance(dir)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "transcripts", "0002.json"), []byte(`{"h":"Basic `+basic2+`"}`), 0o644))
	run := reportstest.ConformanceRun()
	run.ClientID = id1
	opts := reportstest.Options(nil)
	opts.Credentials = []redact.Credential{{ID: id1, Secret: secret1}, {ID: id2, Secret: secret2}}
	err = reports.Finalize(dir, run, opts)
	require.ErrorIs(t, err, reports.ErrUnredacted)
	assert.Contains(t, err.Error(), "transcripts/0002.json")
}

// A second conformance run into the same bundle rewrites summary.json: the manifest's top-level
// run fields and counts are then both that last run's.
func TestLastConformanceRunIsThePrimaryRun(t *testing.T) {
	dir := t.TempDir()
	_, err := reportstest.WriteConformance(dir)
	require.NoError(t, err)
	require.NoError(t, reports.Finalize(dir, reportstest.ConformanceRun(), reportstest.Options(nil)))
	require.NoError(t, reportstest.WriteLoad(dir))
	require.NoError(t, reports.Finalize(dir, reportstest.LoadRun(), reportstest.Options(nil)))

	p := filepath.Join(dir, evidence.SummaryFile)
	data, err := os.ReadFile(p)
	require.NoError(t, err)
	var sum evidence.Summary
	require.NoError(t, json.Unmarshal(data, &sum))
	sum.Profile = "generic"
	sum.Counts.Passed--
	sum.Counts.Failed++
	data, err = json.Marshal(sum)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(p, data, 0o644))
	second := reportstest.ConformanceRun()
	second.RunID, second.Profile, second.Seed = "9b2f1c1e-0000-4000-8000-000000000002", "generic", 7
	second.Started, second.Finished = second.Started.Add(time.Hour), second.Finished.Add(time.Hour)
	require.NoError(t, reports.Finalize(dir, second, reportstest.Options(nil)))

	m := readManifest(t, dir)
	require.Len(t, m.Runs, 3)
	assert.Equal(t, second.RunID, m.RunID, "the last conformance run is the primary run")
	assert.Equal(t, "generic", m.Profile)
	assert.Equal(t, int64(7), m.Seed)
	require.NotNil(t, m.Counts)
	assert.Equal(t, sum.Counts, *m.Counts, "the counts are those of summary.json on disk")
	assert.Equal(t, *m.Runs[2].Counts, *m.Counts)
	assert.Equal(t, reportstest.ConformanceRun().Started, m.Started, "the bundle still starts with its first run")
}

func TestFinalizeRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	err := reports.Finalize(filepath.Join(dir, "nope"), reportstest.ConformanceRun(), reports.FinalizeOptions{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not a directory")

	run := reportstest.ConformanceRun()
	run.Kind = "bench"
	err = reports.Finalize(dir, run, reports.FinalizeOptions{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `run kind "bench"`)

	err = reports.Finalize(dir, reportstest.ConformanceRun(), reports.FinalizeOptions{Build: &buildinfo.Info{}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no summary.json")
	assert.NoFileExists(t, filepath.Join(dir, evidence.SumsFile))
}

func TestFinalizeDropsAStaleSignatureWhenResealedWithoutAKey(t *testing.T) {
	_, priv := newKey(t)
	dir := t.TempDir()
	require.NoError(t, reportstest.WriteBundle(dir, false, priv))
	require.FileExists(t, filepath.Join(dir, evidence.SignatureFile))
	require.NoError(t, reportstest.WriteLoad(dir))
	require.NoError(t, reports.Finalize(dir, reportstest.LoadRun(), reportstest.Options(nil)))
	assert.NoFileExists(t, filepath.Join(dir, evidence.SignatureFile))
}

func TestLoadRunResultComesFromItsSummaryWhenNotGiven(t *testing.T) {
	for _, tc := range []struct {
		name, summary, want string
	}{
		{"should take result failed", `{"result":"failed"}`, "failed"},
		{"should take passed false", `{"passed":false}`, "failed"},
		{"should take passed true", `{"passed":true}`, "passed"},
		{"should leave an unknown verdict empty", `{"mode":"issuance"}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, reportstest.WriteLoad(dir))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "load", "summary.json"), []byte(tc.summary), 0o644))
			run := reportstest.LoadRun()
			run.Result = ""
			require.NoError(t, reports.Finalize(dir, run, reportstest.Options(nil)))
			m := readManifest(t, dir)
			require.Len(t, m.Runs, 1)
			assert.Equal(t, tc.want, m.Runs[0].Result)
			if tc.want == "failed" {
				assert.Equal(t, "failed", m.Result)
			}
		})
	}
}
