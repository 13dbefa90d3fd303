package api

import "time"

// SetHeartbeat changes the event stream heartbeat for a test and returns
// the function that restores it.
func SetHeartbeat(d time.Duration) func() {
	old := heartbeatInterval
	heartbeatInterval = d
	return func() { heartbeatInterval = old }
}
