package tracking

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// Store layout. Everything the tracking store owns is under Prefix:
//
//	mlflow/experiments/<id>.json                 experiment (created create-only, then CAS)
//	mlflow/experiment-names/<hex(name)>          create-only name claim → experiment id
//	mlflow/runs/<experiment id>/<run id>.json    run: info, params, tags, latest metrics (CAS)
//	mlflow/run-ids/<run id>                      create-only pointer → experiment id
//	mlflow/metrics/<run id>/<hex(key)>/<n>.json  metric history, pages of HistoryPageSize points (CAS)
//	mlflow/logged-models/<experiment id>/<model id>.json  logged model (MLflow 3): info, tags, params, metrics (CAS)
//	mlflow/logged-model-ids/<model id>           create-only pointer → experiment id
//	mlflow/artifacts/<path>                      MLflow's artifact proxy (see ArtifactKey)
const (
	// Prefix is the root of everything the tracking store and the artifact proxy write.
	Prefix            = "mlflow/"
	experimentsDir    = Prefix + "experiments/"
	namesDir          = Prefix + "experiment-names/"
	runsDir           = Prefix + "runs/"
	runIDsDir         = Prefix + "run-ids/"
	metricsDir        = Prefix + "metrics/"
	loggedModelsDir   = Prefix + "logged-models/"
	loggedModelIDsDir = Prefix + "logged-model-ids/"
	artifactsPrefix   = Prefix + "artifacts/"
)

func experimentKey(id string) string { return experimentsDir + id + ".json" }

// experimentIDFromKey reads the id back from an experiment key.
func experimentIDFromKey(key string) (string, bool) {
	s, ok := strings.CutPrefix(key, experimentsDir)
	if !ok {
		return "", false
	}
	s, ok = strings.CutSuffix(s, ".json")
	if !ok || !validExperimentID(s) {
		return "", false
	}
	return s, true
}

func nameKey(name string) string { return namesDir + hex.EncodeToString([]byte(name)) }

func runKey(expID, runID string) string { return runsDir + expID + "/" + runID + ".json" }

func runsPrefix(expID string) string { return runsDir + expID + "/" }

func runIDKey(runID string) string { return runIDsDir + runID }

func loggedModelKey(expID, modelID string) string {
	return loggedModelsDir + expID + "/" + modelID + ".json"
}

func loggedModelsPrefix(expID string) string { return loggedModelsDir + expID + "/" }

func loggedModelIDKey(modelID string) string { return loggedModelIDsDir + modelID }

func historyPrefix(runID, key string) string {
	return metricsDir + runID + "/" + hex.EncodeToString([]byte(key)) + "/"
}

func pageKey(prefix string, page int) string { return fmt.Sprintf("%s%08d.json", prefix, page) }

func pageFromKey(prefix, key string) (int, bool) {
	s, ok := strings.CutPrefix(key, prefix)
	if !ok {
		return 0, false
	}
	s, ok = strings.CutSuffix(s, ".json")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 0
}

// ArtifactKey is the store key of a path of MLflow's artifact proxy (the
// part after mlflow-artifacts:/). The path must already be validated.
func ArtifactKey(p string) string { return artifactsPrefix + p }

// ArtifactRoot is the key prefix of the artifact proxy's storage.
const ArtifactRoot = artifactsPrefix

// validExperimentID accepts the decimal ids the store allocates.
func validExperimentID(id string) bool {
	if id == "" || len(id) > 18 || (len(id) > 1 && id[0] == '0') {
		return false
	}
	for _, c := range id {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// validRunID accepts the 32 lower-case hex digits the store allocates.
func validRunID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for _, c := range id {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// LoggedModelIDPrefix starts every logged model id ("m-" and 32 hex digits,
// as MLflow makes them); models:/m-<hex> URIs name logged models.
const LoggedModelIDPrefix = "m-"

// validLoggedModelID accepts the ids the store allocates.
func validLoggedModelID(id string) bool {
	hexPart, ok := strings.CutPrefix(id, LoggedModelIDPrefix)
	return ok && validRunID(hexPart)
}
