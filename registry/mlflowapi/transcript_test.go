package mlflowapi

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestTranscripts replays every testdata/*.json transcript against a fresh
// server over a fresh directory store.
func TestTranscripts(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no transcripts: %v", err)
	}
	for _, f := range files {
		tr := loadTranscript(t, f)
		t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, fsStore(t, t.TempDir()), Options{})
			tr.run(t, e)
		})
	}
}
