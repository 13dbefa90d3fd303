package mlflowapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"path"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/lantern-mlops/lantern/internal/errkind"
	"github.com/lantern-mlops/lantern/internal/server"
	"github.com/lantern-mlops/lantern/objstore"
	"github.com/lantern-mlops/lantern/registry"
	"github.com/lantern-mlops/lantern/registry/tracking"
)

// modelsTree is the read-only folder of the artifact proxy that shows the
// registry's versions: mlflow-artifacts:/lantern-models/<name>/<version>/...
const modelsTree = tracking.ModelsDir

// versionURI is what get-download-uri returns for a version.
func versionURI(name string, version int64) string {
	return tracking.ArtifactScheme + ":/" + modelsTree + "/" + url.PathEscape(name) + "/" + versionString(version)
}

// sourceFile is one file to copy into a new version.
type sourceFile struct {
	path string // relative to the model's root
	size int64
	open func(ctx context.Context) (io.ReadCloser, error)
}

// resolvedSource is what a model version source points at.
type resolvedSource struct {
	files     []sourceFile
	modelFile string // from the MLmodel file's onnx flavor, if any
	runID     string
	lineage   registry.Lineage
	// modelID is the MLflow 3 logged model the files belong to, if any.
	modelID string
	// source, if set, is recorded instead of the request's source:
	// models:/<model id> for a runs:/ source that names a logged model, as
	// MLflow 3 clients record it.
	source string
}

func badSource(source, why string) error {
	return invalidf("Invalid model version source '%s': %s", source, why)
}

const unsupportedSource = "Lantern copies every version's files into its registry, and can read them only from its own storage. " +
	"Log the model with this server as the tracking URI (mlflow.set_tracking_uri) so its files are uploaded through the MLflow artifact proxy, " +
	"then register it with a models:/<model_id>, runs:/<run_id>/<path>, mlflow-artifacts:/<path> or models:/<name>/<version> source"

// loggedModelRef returns the logged model id a models:/ URI names, if it
// names one: models:/m-<id>, MLflow 3's model URI (no version, alias or path).
func loggedModelRef(source string) (string, bool) {
	scheme, rest, ok := strings.Cut(source, ":")
	if !ok || !strings.EqualFold(scheme, "models") {
		return "", false
	}
	rest = strings.TrimLeft(rest, "/")
	if !strings.HasPrefix(rest, tracking.LoggedModelIDPrefix) || strings.ContainsAny(rest, "/@") {
		return "", false
	}
	return rest, true
}

// loggedModelID is a version's model_id: the logged model its source names.
// Every registration from a logged model records models:/<model id> as its
// source (see resolvedSource.source), so the source is where it is kept.
func loggedModelID(source string) string {
	id, _ := loggedModelRef(source)
	return id
}

// checkRelativePaths refuses sources with ".." segments or NUL bytes after
// percent-decoding, as MLflow's _validate_non_local_source_contains_relative_paths does.
func checkRelativePaths(source string) error {
	s := source
	for range 10 {
		d, err := url.QueryUnescape(s)
		if err != nil || d == s {
			break
		}
		s = d
	}
	if strings.ContainsRune(s, 0) || strings.Contains(s, "\\") {
		return badSource(source, "it contains a NUL byte or a backslash")
	}
	for seg := range strings.SplitSeq(s, "/") {
		if seg == ".." {
			return badSource(source, "relative path references ('..') are not allowed; provide an absolute path")
		}
	}
	return nil
}

// resolveSource finds the files a source names. runID is the request's run_id.
func (a *API) resolveSource(ctx context.Context, source, runID string) (*resolvedSource, error) {
	if err := checkRelativePaths(source); err != nil {
		return nil, err
	}
	scheme, rest, hasScheme := strings.Cut(source, ":")
	if !hasScheme || strings.ContainsAny(scheme, "/\\") {
		return nil, badSource(source, "local paths are not supported. "+unsupportedSource)
	}
	switch strings.ToLower(scheme) {
	case "runs":
		return a.runSource(ctx, source, rest)
	case tracking.ArtifactScheme:
		p, err := tracking.ParseArtifactURI(source)
		if err != nil {
			return nil, badSource(source, err.Error())
		}
		return a.proxySource(ctx, source, p, runID)
	case "models":
		return a.modelsSource(ctx, source, rest)
	case "http", "https":
		u, err := url.Parse(source)
		const anchor = "/api/2.0/mlflow-artifacts/artifacts/"
		if err != nil || !strings.Contains(u.Path, anchor) {
			return nil, badSource(source, "an http(s) source must be a URL of this server's artifact proxy ("+anchor+"...). "+unsupportedSource)
		}
		_, after, _ := strings.Cut(u.Path, anchor)
		p, err := tracking.CleanArtifactPath(after)
		if err != nil {
			return nil, badSource(source, err.Error())
		}
		return a.proxySource(ctx, source, p, runID)
	}
	return nil, badSource(source, fmt.Sprintf("the %s: scheme is not supported. %s", scheme, unsupportedSource))
}

// runSource resolves runs:/<run_id>/<path> to the run's artifacts.
func (a *API) runSource(ctx context.Context, source, rest string) (*resolvedSource, error) {
	rest = strings.TrimLeft(rest, "/")
	id, p, _ := strings.Cut(rest, "/")
	if id == "" {
		return nil, badSource(source, "expected runs:/<run_id>/<path>")
	}
	run, err := a.tr.GetRun(ctx, id)
	if err != nil {
		return nil, err
	}
	root, err := tracking.RunArtifactDir(run)
	if err != nil {
		return nil, badSource(source, err.Error())
	}
	clean, err := tracking.CleanArtifactPath(p)
	if err != nil {
		return nil, badSource(source, err.Error())
	}
	dir := tracking.JoinArtifactPath(root, clean)
	if clean != "" && !strings.ContainsAny(clean, `/:.%"'`) {
		// MLflow 3 logs models outside the run's artifacts: when the run has
		// no model at <path>, runs:/<run>/<path> names the logged model the
		// run logged under that name, as 3.x clients resolve it.
		_, err := a.store.Stat(ctx, tracking.ArtifactKey(dir+"/MLmodel"))
		switch {
		case errors.Is(err, objstore.ErrNotFound):
			lm, err := a.tr.RunLoggedModel(ctx, id, clean)
			if err == nil {
				src, err := a.loggedModelSource(ctx, source, lm, id)
				if err != nil {
					return nil, err
				}
				src.source = "models:/" + lm.ID
				return src, nil
			}
			if !errors.Is(err, tracking.ErrNotFound) {
				return nil, err
			}
			// Neither: the run's files there, if any, are the source.
		case err != nil:
			return nil, err
		}
	}
	return a.proxySource(ctx, source, dir, id)
}

// loggedModelSource resolves an MLflow 3 logged model to the files under
// its artifact location, which clients upload through the artifact proxy.
// Only a READY model is registered: a PENDING one may still be uploading,
// and a failed one is incomplete. runID, if set, is the run the source
// named; by default it is the model's source run.
func (a *API) loggedModelSource(ctx context.Context, source string, lm *tracking.LoggedModel, runID string) (*resolvedSource, error) {
	if lm.Status != tracking.LoggedModelReady {
		return nil, &userError{errkind.FailedPrecondition, fmt.Sprintf(
			"Logged model %s is %s, not %s: only a finalized model whose files are all uploaded can be registered (mlflow.finalize_logged_model)",
			lm.ID, lm.Status, tracking.LoggedModelReady)}
	}
	root, err := tracking.ParseArtifactURI(lm.ArtifactLocation)
	if err != nil {
		return nil, badSource(source, fmt.Sprintf("logged model %s keeps its files at %q, which this server does not store", lm.ID, lm.ArtifactLocation))
	}
	if runID == "" {
		runID = lm.SourceRunID
	}
	src, err := a.proxySource(ctx, source, root, runID)
	if err != nil {
		return nil, err
	}
	src.modelID = lm.ID
	// The model's params and metrics complete the run's in the lineage.
	for k, v := range lm.Params {
		if src.lineage.Parameters == nil {
			src.lineage.Parameters = map[string]string{}
		}
		src.lineage.Parameters[k] = v
	}
	for _, m := range lm.Metrics {
		if m.DatasetName != "" || math.IsNaN(m.Value) || math.IsInf(m.Value, 0) {
			continue
		}
		if src.lineage.Metrics == nil {
			src.lineage.Metrics = map[string]float64{}
		}
		src.lineage.Metrics[m.Key] = m.Value
	}
	return src, nil
}

// proxySource lists the files under a path of the artifact proxy (or the
// one file at it), or of the registry's read-only tree.
func (a *API) proxySource(ctx context.Context, source, p, runID string) (*resolvedSource, error) {
	if p == modelsTree || strings.HasPrefix(p, modelsTree+"/") {
		name, version, sub, ok := splitModelsPath(p)
		if !ok || version == 0 {
			return nil, badSource(source, "expected "+tracking.ArtifactScheme+":/"+modelsTree+"/<name>/<version>")
		}
		return a.versionSource(ctx, source, name, version, sub)
	}
	if p == "" {
		return nil, badSource(source, "it names the root of the artifact store; name the model's folder")
	}
	src := &resolvedSource{runID: runID}
	prefix := tracking.ArtifactKey(p) + "/"
	for info, err := range a.store.List(ctx, prefix, objstore.ListOptions{}) {
		if err != nil {
			return nil, err
		}
		if len(src.files) == a.opts.MaxSourceFiles {
			return nil, badSource(source, fmt.Sprintf("it has more than %d files", a.opts.MaxSourceFiles))
		}
		src.files = append(src.files, a.storeFile(info.Key, strings.TrimPrefix(info.Key, prefix), info.Size))
	}
	if len(src.files) == 0 {
		info, err := a.store.Stat(ctx, tracking.ArtifactKey(p))
		if errors.Is(err, objstore.ErrNotFound) {
			return nil, badSource(source, "there are no files at that location; log the model's files first (its artifacts must be uploaded through this server)")
		}
		if err != nil {
			return nil, err
		}
		src.files = append(src.files, a.storeFile(info.Key, path.Base(p), info.Size))
	}
	if err := a.readMLmodel(ctx, src); err != nil {
		return nil, badSource(source, err.Error())
	}
	if runID != "" {
		if run, err := a.tr.GetRun(ctx, runID); err == nil {
			src.lineage = runLineage(run)
		}
	}
	return src, nil
}

func (a *API) storeFile(key, rel string, size int64) sourceFile {
	return sourceFile{path: rel, size: size, open: func(ctx context.Context) (io.ReadCloser, error) {
		rc, _, err := a.store.Get(ctx, key)
		return rc, err
	}}
}

// modelsSource resolves models:/<model id> (a logged model),
// models:/<name>/<version|stage|alias> and models:/<name>@<alias>.
func (a *API) modelsSource(ctx context.Context, source, rest string) (*resolvedSource, error) {
	if id, ok := loggedModelRef(source); ok {
		lm, err := a.tr.GetLoggedModel(ctx, id)
		if err != nil {
			return nil, err
		}
		return a.loggedModelSource(ctx, source, lm, "")
	}
	rest = strings.TrimLeft(rest, "/")
	var name, ref string
	if n, alias, ok := strings.Cut(rest, "@"); ok && !strings.Contains(alias, "/") {
		name, ref = n, alias
	} else {
		n, r, ok := strings.Cut(rest, "/")
		if !ok || n == "" || r == "" || strings.Contains(r, "/") {
			return nil, badSource(source, "expected models:/<model_id>, models:/<name>/<version>, models:/<name>/<stage> or models:/<name>@<alias>")
		}
		name, ref = n, r
	}
	name, err := url.PathUnescape(name)
	if err != nil {
		return nil, badSource(source, "the model name is not properly escaped")
	}
	var v *registry.Version
	if st, serr := registry.ParseStage(ref); serr == nil && st != registry.StageNone {
		vs, err := a.reg.LatestVersions(ctx, name, []registry.Stage{st})
		if err != nil {
			return nil, err
		}
		if len(vs) == 0 {
			return nil, notFoundf("Registered model %q has no version in stage %s", name, st)
		}
		v = vs[0]
	} else if v, err = a.reg.ResolveVersion(ctx, name, ref); err != nil {
		return nil, err
	}
	return a.versionSource(ctx, source, v.Name, v.Version, "")
}

// versionSource copies the files of a registered version (under sub).
func (a *API) versionSource(ctx context.Context, source, name string, version int64, sub string) (*resolvedSource, error) {
	v, err := a.reg.GetVersion(ctx, name, version)
	if err != nil {
		return nil, err
	}
	src := &resolvedSource{runID: v.RunID, lineage: v.Lineage}
	src.lineage.Parent = fmt.Sprintf("%s/%d", v.Name, v.Version)
	for _, art := range v.Artifacts {
		rel := art.Path
		if sub != "" {
			var ok bool
			if rel, ok = strings.CutPrefix(art.Path, sub+"/"); !ok {
				continue
			}
		}
		p := art.Path
		src.files = append(src.files, sourceFile{path: rel, size: art.Size, open: func(ctx context.Context) (io.ReadCloser, error) {
			rc, _, err := a.reg.OpenArtifact(ctx, name, version, p)
			return rc, err
		}})
	}
	if len(src.files) == 0 {
		return nil, badSource(source, "that version has no files there")
	}
	if sub == "" {
		src.modelFile = v.ModelFile
	} else if rest, ok := strings.CutPrefix(v.ModelFile, sub+"/"); ok {
		src.modelFile = rest
	}
	if src.modelFile == "" {
		if err := a.readMLmodel(ctx, src); err != nil {
			return nil, badSource(source, err.Error())
		}
	}
	return src, nil
}

// readMLmodel finds the ONNX file among src's files. The MLmodel file's
// onnx flavor names it (flavors.onnx.data); without one, the registry picks
// the only .onnx file (or model.onnx). A source without any .onnx file is
// refused here, before anything is copied.
func (a *API) readMLmodel(ctx context.Context, src *resolvedSource) error {
	var mlmodel *sourceFile
	hasONNX := false
	for i := range src.files {
		f := &src.files[i]
		if f.path == "MLmodel" {
			mlmodel = f
		}
		if strings.EqualFold(path.Ext(f.path), ".onnx") {
			hasONNX = true
		}
	}
	if !hasONNX {
		return errors.New("it has no ONNX model (no .onnx file). Lantern serves ONNX models only: log the model with mlflow.onnx.log_model " +
			"(convert it first with skl2onnx, torch.onnx.export or tf2onnx)")
	}
	if mlmodel == nil {
		return nil
	}
	if mlmodel.size > 1<<20 {
		return errors.New("its MLmodel file is over 1 MiB")
	}
	rc, err := mlmodel.open(ctx)
	if err != nil {
		return fmt.Errorf("cannot read its MLmodel file: %w", err)
	}
	b, err := io.ReadAll(io.LimitReader(rc, 1<<20))
	rc.Close()
	if err != nil {
		return fmt.Errorf("cannot read its MLmodel file: %w", err)
	}
	var mm struct {
		Flavors map[string]map[string]any `json:"flavors"`
	}
	if err := yaml.Unmarshal(b, &mm); err != nil {
		return fmt.Errorf("its MLmodel file is not valid YAML: %v", err)
	}
	data, _ := mm.Flavors["onnx"]["data"].(string)
	if data == "" {
		return nil
	}
	clean, err := tracking.CleanArtifactPath(data)
	if err != nil || clean == "" {
		return fmt.Errorf("its MLmodel file names the ONNX file %q, which is not a valid relative path", data)
	}
	for _, f := range src.files {
		if f.path == clean {
			src.modelFile = clean
			return nil
		}
	}
	return fmt.Errorf("its MLmodel file names the ONNX file %q, which is not among its files", data)
}

// runLineage records a run's params, metrics and code version.
func runLineage(run *tracking.Run) registry.Lineage {
	l := registry.Lineage{RunID: run.Info.RunID, CodeVersion: run.Tags[tracking.TagGitCommit]}
	for k, v := range run.Params {
		if l.Parameters == nil {
			l.Parameters = map[string]string{}
		}
		l.Parameters[k] = v
	}
	for k, m := range run.Metrics {
		if math.IsNaN(m.Value) || math.IsInf(m.Value, 0) {
			continue // not representable in the registry's JSON
		}
		if l.Metrics == nil {
			l.Metrics = map[string]float64{}
		}
		l.Metrics[k] = m.Value
	}
	return l
}

func (a *API) createVersion(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name        string    `json:"name" mlflow:"required"`
		Source      string    `json:"source" mlflow:"required"`
		RunID       string    `json:"run_id"`
		Tags        []wireTag `json:"tags"`
		RunLink     string    `json:"run_link"`
		Description string    `json:"description"`
		// ModelID is the logged model the 3.x client registers (with the
		// source models:/<model id>).
		ModelID string `json:"model_id"`
	}
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	// The model must exist before anything is read or copied.
	if _, err := a.reg.GetModel(ctx, req.Name); err != nil {
		return err
	}
	src, err := a.resolveSource(ctx, req.Source, req.RunID)
	if err != nil {
		return err
	}
	if req.ModelID != "" && req.ModelID != src.modelID {
		if src.modelID == "" {
			return invalidf("model_id '%s' is not the logged model of source '%s': a version is linked to the logged model it is copied from; register it with the source models:/%s", req.ModelID, req.Source, req.ModelID)
		}
		return invalidf("model_id '%s' does not match source '%s', which is logged model %s", req.ModelID, req.Source, src.modelID)
	}
	source := req.Source
	if src.source != "" {
		source = src.source
	}
	runID := req.RunID
	if runID == "" {
		runID = src.runID
	}
	lineage := src.lineage
	if lineage.RunID == "" {
		lineage.RunID = runID
	}
	reg, err := a.reg.BeginVersion(ctx, registry.NewVersion{
		Name: req.Name, Description: req.Description, Source: source, RunID: runID, RunLink: req.RunLink,
		Tags: tagMap(req.Tags), Lineage: lineage, ModelFile: src.modelFile,
	})
	if err != nil {
		return err
	}
	defer reg.Abort(ctx) // no-op after Commit
	for _, f := range src.files {
		if err := a.copyFile(ctx, reg, req.Source, f); err != nil {
			return err
		}
	}
	v, err := reg.Commit(ctx)
	if err != nil {
		if errors.Is(err, registry.ErrInvalid) {
			return badSource(req.Source, err.Error())
		}
		return err
	}
	if src.modelID != "" {
		// As MLflow's server does (set_model_versions_tags). The version
		// exists now: a failure here must not make the client retry and
		// register it twice.
		if err := a.tr.AddModelVersion(ctx, src.modelID, v.Name, versionString(v.Version)); err != nil {
			a.log.Warn("could not record the registration on the logged model", "request_id", server.RequestID(r),
				"model_id", src.modelID, "name", v.Name, "version", v.Version, "err", err)
		}
	}
	return reply(w, modelVersionResponse{toWireVersion(v)})
}

func (a *API) copyFile(ctx context.Context, reg *registry.Registration, source string, f sourceFile) error {
	rc, err := f.open(ctx)
	if errors.Is(err, objstore.ErrNotFound) {
		return invalidf("The source's file %s disappeared while it was being copied; try again", f.path)
	}
	if err != nil {
		return fmt.Errorf("open %s: %w", f.path, err)
	}
	defer rc.Close()
	if _, err := reg.PutArtifact(ctx, f.path, rc, f.size); err != nil {
		if errors.Is(err, registry.ErrInvalid) && strings.EqualFold(path.Ext(f.path), ".onnx") {
			return badSource(source, fmt.Sprintf("%s is not a valid ONNX model, and Lantern serves ONNX models only: %v", f.path, err))
		}
		if errors.Is(err, registry.ErrInvalid) {
			return badSource(source, err.Error())
		}
		return err
	}
	return nil
}
