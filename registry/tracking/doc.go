// Package tracking is the subset of MLflow's tracking server that MLflow
// clients need to log models into Lantern: experiments, runs with their
// params, tags and metrics, the models logged by runs, MLflow 3's logged
// models (with their tags, params, linked metrics and status), and the
// storage of MLflow's artifact proxy. It keeps everything in the
// objstore.Store the registry uses, under the "mlflow/" prefix (see
// keys.go), with no database.
//
// # Consistency
//
// Every object is created with a create-only write and changed with a
// compare-and-swap write retried on conflict, so several Lantern processes
// can share one bucket. Experiment ids are allocated as MLflow does ("0",
// "1", ...) by create-only writes of the experiment object at the next free
// number; experiment "0", "Default", is created by New if it is missing.
// Experiment names are unique through create-only name claims, taken over
// when stale (a rename away, or a creation that died half-way). Run ids are
// 32 random hex digits, logged model ids "m-" and 32 random hex digits (as
// MLflow makes them); a create-only pointer maps each to its experiment.
//
// Reads always go to the store; decoded objects are cached only by ETag, so
// a search lists the objects and re-reads only those that changed, and a
// process never serves another process's stale data.
//
// # Metrics
//
// A run object holds the latest value of each metric (the one with the
// highest step, then timestamp, then value, as MLflow's SQL store picks it).
// The full history of a metric is kept in pages of HistoryPageSize points,
// appended with compare-and-swap, so a write costs one small object however
// long a training runs.
//
// A value logged with a logged model's id (MLflow 3) is also recorded on
// that model, as the latest value per metric and dataset; a point the run's
// history already holds is not appended again, since 3.x's log_model logs
// the run's metrics of its step a second time to link them.
//
// # MLflow behaviour
//
// Validation follows mlflow/utils/validation.py: key names, value lengths,
// the limits of log-batch (1000 metrics, 100 params, 100 tags, 1000 in all),
// immutable params (logging another value is INVALID_PARAMETER_VALUE) and
// refusal to log to deleted runs. Searches accept the filter subset
// documented in filter.go and answer anything else with an error that says
// what is supported.
//
// Lantern stores artifacts itself: an experiment's artifact location is
// always an mlflow-artifacts:/ URI (by default mlflow-artifacts:/<id>), a
// run's artifact_uri is "<artifact location>/<run id>/artifacts", and a
// logged model's "<artifact location>/models/<model id>/artifacts".
package tracking
