// Package buildinfo reports the version of the running binary.
package buildinfo

import (
	"runtime/debug"
	"sync"
)

// Version is set at link time (-ldflags "-X .../buildinfo.Version=v1.2.3");
// otherwise it comes from the module version or the VCS revision.
var Version = ""

var once sync.Once

// String returns the version, "dev" when nothing better is known.
func String() string {
	once.Do(func() {
		if Version != "" {
			return
		}
		Version = "dev"
		bi, ok := debug.ReadBuildInfo()
		if !ok {
			return
		}
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			Version = v
			return
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				Version = "dev-" + s.Value[:12]
			}
		}
	})
	return Version
}
