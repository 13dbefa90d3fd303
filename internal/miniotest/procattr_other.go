//go:build !linux

package miniotest

import "os/exec"

// setProcAttr does nothing outside Linux, which has no parent-death signal:
// there, only Main and t.Cleanup stop the server.
func setProcAttr(cmd *exec.Cmd) {}
