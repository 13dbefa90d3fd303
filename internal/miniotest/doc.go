// Package miniotest runs a real MinIO server for tests.
//
// A test package that talks to MinIO calls Main from its TestMain and Start
// from its tests:
//
//	func TestMain(m *testing.M) { miniotest.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		srv := miniotest.Start(t)
//		bucket := srv.NewBucket(t)
//		// talk to srv.Endpoint with srv.AccessKey and srv.SecretKey
//	}
//
// With Main, one server is started lazily for the whole test binary and
// stopped when the tests end; without it, Start gives every test its own
// server, stopped by t.Cleanup. On Linux the server is also killed if the test
// binary dies, so `go test ./...` leaves no process behind either way.
// StartDedicated always starts a private server, for tests that Kill or
// Restart it.
//
// The server binary is taken from $LANTERN_MINIO_BIN, else from the cache that
// scripts/tools.sh fills (`scripts/tools.sh minio`). When it is missing the
// test is skipped, unless LANTERN_INTEGRATION=1, in which case it fails.
//
// Every server listens on a free loopback port with random root credentials,
// keeps its data in a temporary directory, and has its console and browser
// disabled. Its output goes to a log file that is printed when a test that
// used it fails.
package miniotest
