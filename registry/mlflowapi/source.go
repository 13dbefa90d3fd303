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
}

func badSource(source, why string) error {
	return invalidf("Invalid model version source '%s': %s", source, why)
}

const unsupportedSource = "Lantern copies every version's files into its registry, and can read them only from its own storage. " +
	"Log the model with this server as the tracking URI (mlflow.set_tracking_uri) so its files are uploaded through the MLflow artifact proxy, " +
	"then register it with a runs:/<run_id>/<path>, mlflow-artifacts:/<path> or models:/<name>/<version> source"

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
	return a.proxySource(ctx, source, tracking.JoinArtifactPath(root, clean), id)
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

// modelsSource resolves models:/<name>/<version|stage|alias> and models:/<name>@<alias>.
func (a *API) modelsSource(ctx context.Context, source, rest string) (*resolvedSource, error) {
	rest = strings.TrimLeft(rest, "/")
	var name, ref string
	if n, alias, ok := strings.Cut(rest, "@"); ok && !strings.Contains(alias, "/") {
		name, ref = n, alias
	} else {
		n, r, ok := strings.Cut(rest, "/")
		if !ok || n == "" || r == "" || strings.Contains(r, "/") {
			if strings.HasPrefix(rest, "m-") && !strings.Contains(rest, "/") {
				return nil, badSource(source, "MLflow 3 logged-model ids (models:/m-...) are not supported: register from the run (runs:/<run_id>/<path>) instead")
			}
			return nil, badSource(source, "expected models:/<name>/<version>, models:/<name>/<stage> or models:/<name>@<alias>")
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
	runID := req.RunID
	if runID == "" {
		runID = src.runID
	}
	lineage := src.lineage
	if lineage.RunID == "" {
		lineage.RunID = runID
	}
	reg, err := a.reg.BeginVersion(ctx, registry.NewVersion{
		Name: req.Name, Description: req.Description, Source: req.Source, RunID: runID, RunLink: req.RunLink,
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
