// Package mlflowapi serves MLflow's REST API over Lantern's model registry
// and tracking store, so that MLflow clients (2.x and 3.x) work unchanged
// with mlflow.set_tracking_uri("http://<lantern>:8080"): logging runs and
// models, registering versions, aliases, stages, searches and downloads.
//
// # Endpoints
//
// Every endpoint is served under /api/2.0 and /ajax-api/2.0, as MLflow's
// server does:
//
//   - the whole model registry (registered-models/*, model-versions/*),
//     mapped to registry.Service;
//   - the tracking subset clients need (experiments/*, runs/*,
//     metrics/get-history, artifacts/list), mapped to tracking.Store;
//   - MLflow 3's logged models (logged-models, logged-models/search,
//     logged-models/{model_id}[/tags|/params|/artifacts/directories], and
//     runs/outputs), which mlflow.<flavor>.log_model creates in 3.x (see
//     loggedmodels.go);
//   - the artifact proxy of `mlflow server --serve-artifacts`
//     (mlflow-artifacts/artifacts/<path>: PUT, GET with Range, DELETE, and
//     listing), keeping files in the same object store.
//
// Requests follow MLflow's conventions (see decode.go): GET fields in the
// query string, other methods in a JSON body, unknown fields ignored, and
// errors as {"error_code", "message"} with MLflow's codes and statuses.
//
// # Registering a version
//
// model-versions/create copies the files its source names into a new
// registry version, streaming them through registry.Registration (hashed,
// immutable, ONNX signature read), and answers READY at once, so clients do
// not poll. Sources may be models:/<model_id> (an MLflow 3 logged model:
// the files under its artifact location, once it is READY),
// runs:/<run>/<path> (the run's files, or else the logged model the run
// logged under that name, as 3.x clients resolve it), mlflow-artifacts:/<path>
// (or this server's artifact URLs), models:/<name>/<version|stage> and
// models:/<name>@<alias>. A source without a valid .onnx file is refused,
// as are other schemes (s3:, file:, local paths...), which this server
// cannot read: clients must upload through its artifact proxy.
//
// A version registered from a logged model records models:/<model_id> as
// its source, and answers model_id, as MLflow 3 does; the logged model's
// mlflow.modelVersions tag lists the versions made from it.
//
// get-download-uri answers mlflow-artifacts:/lantern-models/<name>/<version>,
// a read-only folder of the proxy backed by the registry, which checks each
// file's sha256 as it is downloaded.
//
// # Authentication
//
// API.Handler wraps the API in internal/server's middleware: callers
// authenticate with a bearer token (MLFLOW_TRACKING_TOKEN) or basic auth,
// and Role decides the role each call needs. Registry writes are recorded
// in the audit log under the caller's name and request id.
package mlflowapi
