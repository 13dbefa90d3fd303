package registry

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Store layout. Everything the registry owns is under root.
const (
	root           = "registry/"
	namesPrefix    = root + "names/"
	modelsPrefix   = root + "models/"
	artifactsRoot  = root + "artifacts/"
	eventsPrefix   = root + "events/"
	leasesPrefix   = root + "leases/"
	uploadsPrefix  = root + "uploads/"
	versionsFolder = "/versions/"
)

// nameKey is the create-only claim of a model name. Names are hex-encoded so
// any valid name is a safe single key segment.
func nameKey(name string) string { return namesPrefix + hex.EncodeToString([]byte(name)) }

func modelKey(id string) string { return modelsPrefix + id + "/model.json" }

func versionKey(id string, v int64) string {
	return fmt.Sprintf("%s%s%s%010d.json", modelsPrefix, id, versionsFolder, v)
}

func versionsPrefix(id string) string { return modelsPrefix + id + versionsFolder }

func artifactPrefix(id, reg string) string { return artifactsRoot + id + "/" + reg + "/" }

func leaseKey(reg string) string { return leasesPrefix + reg + ".json" }

// eventKey is deterministic in the changed object's key, revision and write
// time, so the janitor can rebuild a lost event under the same key
// (create-only makes the rebuild idempotent). Keys sort by time.
func eventKey(object string, rev int64, at time.Time) string {
	return eventsPrefix + eventID(object, rev, at) + ".json"
}

func eventID(object string, rev int64, at time.Time) string {
	h := sha256.Sum256([]byte(object + "#" + strconv.FormatInt(rev, 10)))
	return fmt.Sprintf("%019d-%s", at.UnixNano(), hex.EncodeToString(h[:6]))
}

// eventKeyAt is the smallest event key at or after t, for listing with StartAfter.
func eventKeyAt(t time.Time) string {
	if t.UnixNano() <= 0 {
		return eventsPrefix
	}
	return fmt.Sprintf("%s%019d", eventsPrefix, t.UnixNano())
}

// eventTime reads the time back from an event key.
func eventTime(key string) (time.Time, bool) {
	s := strings.TrimPrefix(key, eventsPrefix)
	if len(s) < 19 {
		return time.Time{}, false
	}
	n, err := strconv.ParseInt(s[:19], 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(0, n), true
}

// parseObjectKey classifies a key under modelsPrefix.
func parseObjectKey(key string) (id string, version int64, isModel, ok bool) {
	rest, found := strings.CutPrefix(key, modelsPrefix)
	if !found {
		return "", 0, false, false
	}
	id, rest, found = strings.Cut(rest, "/")
	if !found || id == "" {
		return "", 0, false, false
	}
	if rest == "model.json" {
		return id, 0, true, true
	}
	num, found := strings.CutPrefix(rest, "versions/")
	if !found {
		return "", 0, false, false
	}
	num, found = strings.CutSuffix(num, ".json")
	if !found {
		return "", 0, false, false
	}
	v, err := strconv.ParseInt(num, 10, 64)
	if err != nil || v <= 0 {
		return "", 0, false, false
	}
	return id, v, false, true
}
