// Package client is the Go client of the registry's native API (/api/v1),
// used by the lantern command line and the serving layer.
//
// It is written for field offices on poor links: files are streamed, never
// held in memory; files over 64 MiB go through resumable uploads whose ids
// are remembered on disk, so re-running an interrupted registration sends
// only the parts the server lacks; downloads resume from a ".part" file and
// are checked against the registered sha256 before they are put in place;
// and the change feed reconnects by itself.
//
// Calls return the registry's own types, and errors that wrap the same
// sentinels the server uses, so errors.Is(err, registry.ErrNotFound) works on
// both sides. A *Error carries the server's status, code, message and
// request id; failures to reach the server wrap errkind.Unavailable.
//
//	c, err := client.New("http://127.0.0.1:8080", os.Getenv("LANTERN_TOKEN"))
//	v, err := c.Register(ctx, client.RegisterRequest{
//		Name:        "rutf-demand",
//		Files:       []client.File{{Path: "model.onnx", Local: "out/model.onnx"}},
//		Aliases:     []string{"candidate"},
//		CreateModel: true,
//	})
//
// A Client is safe for concurrent use.
package client
