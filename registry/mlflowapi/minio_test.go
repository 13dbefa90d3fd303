package mlflowapi

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/lantern-mlops/lantern/internal/miniotest"
	"github.com/lantern-mlops/lantern/objstore/miniostore"
)

// TestTranscriptsMinIO replays the logging (MLflow 2 and 3), registration
// and download flows against a real MinIO bucket.
func TestTranscriptsMinIO(t *testing.T) {
	srv := miniotest.Start(t)
	for _, name := range []string{"a_log_model", "c_alias_download", "h_log_model_v3"} {
		t.Run(name, func(t *testing.T) {
			st, err := miniostore.New(context.Background(), miniostore.Options{
				Endpoint: srv.Endpoint, Bucket: srv.NewBucket(t), AccessKey: srv.AccessKey, SecretKey: srv.SecretKey,
			})
			if err != nil {
				t.Fatal(err)
			}
			tr := loadTranscript(t, filepath.Join("testdata", name+".json"))
			tr.run(t, newEnv(t, st, Options{}))
		})
	}
}
