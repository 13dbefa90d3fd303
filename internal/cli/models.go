package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/lantern-mlops/lantern/internal/onnx"
	"github.com/lantern-mlops/lantern/registry"
	"github.com/lantern-mlops/lantern/registry/client"
)

type modelsCmd struct {
	Register modelsRegisterCmd `cmd:"" help:"Upload files and register them as a new version, creating the model if needed. Large files resume where they stopped when run again."`
	List     modelsListCmd     `cmd:"" help:"List registered models."`
	Show     modelsShowCmd     `cmd:"" help:"Show a model and its recent versions, or one version with NAME@REF."`
	Versions modelsVersionsCmd `cmd:"" help:"List a model's versions, newest first."`
	Download modelsDownloadCmd `cmd:"" help:"Download a file of a version. An interrupted download resumes when run again; the file is checked against its sha256."`
	Delete   modelsDeleteCmd   `cmd:"" help:"Delete a model with all its versions (admin token), or one version with --version."`
	Alias    aliasCmd          `cmd:"" help:"Point an alias (production, candidate, ...) at a version, or remove it."`
}

// modelsRegisterCmd is 'lantern models register'.
type modelsRegisterCmd struct {
	clientFlags
	Name          string             `help:"Registered model name." required:"" placeholder:"NAME"`
	File          []string           `help:"File to upload; repeat for more files. It is stored under its base name; write ARTIFACT=PATH to choose the path in the version (profile/reference.json=out/ref.json)." required:"" sep:"none" placeholder:"PATH"`
	Alias         []string           `help:"Alias to point at the new version; repeat for more." placeholder:"ALIAS"`
	Tag           map[string]string  `help:"Version tag KEY=VALUE; repeat for more." mapsep:"none" placeholder:"KEY=VALUE"`
	Metric        map[string]float64 `help:"Metric of the training run KEY=NUMBER (recorded in the lineage); repeat for more." mapsep:"none" placeholder:"KEY=NUMBER"`
	Param         map[string]string  `help:"Training parameter KEY=VALUE (recorded in the lineage); repeat for more." mapsep:"none" placeholder:"KEY=VALUE"`
	Description   string             `help:"Description of the version." placeholder:"TEXT"`
	DatasetURI    string             `help:"Where the training data came from (s3://..., a file path, a dataset name)." placeholder:"URI"`
	DatasetDigest string             `help:"Digest of the training data, to tell dataset versions apart." placeholder:"DIGEST"`
	RunID         string             `help:"Id of the training run." placeholder:"ID"`
	CodeVersion   string             `help:"Version of the training code (a git commit)." placeholder:"VERSION"`
	Parent        string             `help:"Version this one was derived from, as NAME/VERSION (retraining)." placeholder:"NAME/VERSION"`
	ModelFile     string             `help:"Artifact path of the ONNX model when several .onnx files are uploaded (default: the only one, or model.onnx)." placeholder:"PATH"`
	NoCreate      bool               `help:"Fail if the model does not exist instead of creating it."`
}

// localFile reads a --file value: PATH, or ARTIFACT=PATH.
func localFile(arg string) (client.File, error) {
	if _, err := os.Stat(arg); err == nil || !strings.Contains(arg, "=") {
		return client.File{Path: filepath.Base(arg), Local: arg}, nil
	}
	art, local, _ := strings.Cut(arg, "=")
	if art == "" || local == "" {
		return client.File{}, fmt.Errorf("--file %q: write PATH or ARTIFACT=PATH", arg)
	}
	return client.File{Path: filepath.ToSlash(art), Local: local}, nil
}

func (c *modelsRegisterCmd) Run(ctx context.Context, g *Globals) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	req := client.RegisterRequest{
		Name: c.Name, Aliases: c.Alias, Tags: c.Tag, Description: c.Description,
		ModelFile: c.ModelFile, CreateModel: !c.NoCreate,
		Lineage: registry.Lineage{
			RunID: c.RunID, DatasetURI: c.DatasetURI, DatasetDigest: c.DatasetDigest,
			CodeVersion: c.CodeVersion, Parameters: c.Param, Metrics: c.Metric, Parent: c.Parent,
		},
	}
	var total int64
	for _, arg := range c.File {
		f, err := localFile(arg)
		if err != nil {
			return err
		}
		st, err := os.Stat(f.Local)
		if err != nil {
			return fmt.Errorf("--file %s: %w", arg, errors.Unwrap(err))
		}
		if st.IsDir() {
			return fmt.Errorf("--file %s is a directory: pass its files one by one", arg)
		}
		total += st.Size()
		req.Files = append(req.Files, f)
	}
	prog := newProgress(g.stderr, "uploading", total)
	req.Progress = prog.set
	v, err := cl.Register(ctx, req)
	prog.finish()
	if v == nil {
		return c.explain(err)
	}
	if perr := c.printRegistered(g.stdout, v); perr != nil {
		return perr
	}
	if err != nil {
		// Registered, but something after it failed (an alias): say so and fail.
		return &exitError{code: 1, err: fmt.Errorf("version %d was registered, but: %v", v.Version, c.explain(err))}
	}
	return nil
}

func (c *modelsRegisterCmd) printRegistered(w io.Writer, v *registry.Version) error {
	if c.Output == "json" {
		return printJSON(w, v)
	}
	fmt.Fprintf(w, "registered %s version %d (%s)", v.Name, v.Version, v.Status)
	if len(v.Aliases) > 0 {
		fmt.Fprintf(w, ", aliases: %s", strings.Join(v.Aliases, ", "))
	}
	fmt.Fprintln(w)
	t := newTable(w, "FILE", "SIZE", "SHA256")
	for _, a := range v.Artifacts {
		t.row(a.Path, humanBytes(a.Size), a.SHA256)
	}
	return t.flush()
}

// modelsListCmd is 'lantern models list'.
type modelsListCmd struct {
	clientFlags
	Filter  string   `help:"Search filter in MLflow's syntax, such as \"name LIKE 'rutf-%' AND tags.team = 'supply'\"." placeholder:"FILTER"`
	OrderBy []string `help:"Sort key such as 'last_updated_timestamp DESC'; repeat for more (default: by name)." sep:"none" placeholder:"KEY"`
}

func (c *modelsListCmd) Run(ctx context.Context, g *Globals) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	models := []*registry.Model{}
	for m, err := range cl.Models(ctx, registry.SearchQuery{Filter: c.Filter, OrderBy: c.OrderBy, MaxResults: 1000}) {
		if err != nil {
			return c.explain(err)
		}
		models = append(models, m)
	}
	if c.Output == "json" {
		return printJSON(g.stdout, models)
	}
	if len(models) == 0 {
		fmt.Fprintln(g.stderr, "no registered models (register one with 'lantern models register')")
		return nil
	}
	t := newTable(g.stdout, "NAME", "ALIASES", "UPDATED", "BY", "DESCRIPTION")
	for _, m := range models {
		t.row(m.Name, orDash(kv(m.Aliases)), when(m.UpdatedAt), orDash(m.UpdatedBy), orDash(truncate(m.Description, 60)))
	}
	return t.flush()
}

// splitRef reads NAME or NAME@REF.
func splitRef(arg, def string) (name, ref string) {
	name, ref, found := strings.Cut(arg, "@")
	if !found || ref == "" {
		return name, def
	}
	return name, ref
}

// modelsShowCmd is 'lantern models show'.
type modelsShowCmd struct {
	clientFlags
	Model string `arg:"" help:"Model name, or NAME@REF for one version (REF: a number, v3, an alias, or latest)." placeholder:"NAME[@REF]"`
}

func (c *modelsShowCmd) Run(ctx context.Context, g *Globals) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	name, ref := splitRef(c.Model, "")
	if ref != "" {
		v, err := cl.GetVersion(ctx, name, ref)
		if err != nil {
			return c.explain(err)
		}
		if c.Output == "json" {
			return printJSON(g.stdout, v)
		}
		return printVersion(g.stdout, v)
	}
	m, err := cl.GetModel(ctx, name)
	if err != nil {
		return c.explain(err)
	}
	vs, _, err := cl.ListVersions(ctx, name, registry.SearchQuery{MaxResults: 10})
	if err != nil {
		return c.explain(err)
	}
	if c.Output == "json" {
		return printJSON(g.stdout, m)
	}
	w := g.stdout
	fields := newTable(w, "model:", m.Name)
	fields.row("description:", orDash(m.Description))
	fields.row("aliases:", orDash(kv(m.Aliases)))
	fields.row("tags:", orDash(kv(m.Tags)))
	fields.row("created:", when(m.CreatedAt)+" by "+orDash(m.CreatedBy))
	fields.row("updated:", when(m.UpdatedAt)+" by "+orDash(m.UpdatedBy))
	if err := fields.flush(); err != nil {
		return err
	}
	if len(vs) == 0 {
		fmt.Fprintln(w, "\nno versions yet")
		return nil
	}
	fmt.Fprintln(w)
	return versionsTable(w, vs)
}

func printVersion(w io.Writer, v *registry.Version) error {
	t := newTable(w, "model:", v.Name)
	t.row("version:", fmt.Sprintf("%d (%s)", v.Version, v.Status))
	if v.StatusMessage != "" {
		t.row("status message:", v.StatusMessage)
	}
	t.row("aliases:", orDash(strings.Join(v.Aliases, ", ")))
	t.row("stage:", v.Stage)
	t.row("created:", when(v.CreatedAt)+" by "+orDash(v.CreatedBy))
	t.row("description:", orDash(v.Description))
	t.row("source:", orDash(v.Source))
	t.row("run:", orDash(v.RunID))
	l := v.Lineage
	t.row("dataset:", orDash(strings.TrimSpace(l.DatasetURI+" "+l.DatasetDigest)))
	t.row("code version:", orDash(l.CodeVersion))
	t.row("parent:", orDash(l.Parent))
	t.row("parameters:", orDash(kv(l.Parameters)))
	t.row("metrics:", orDash(kv(l.Metrics)))
	t.row("tags:", orDash(kv(v.Tags)))
	t.row("model file:", orDash(v.ModelFile))
	if s := v.Signature; s != nil {
		t.row("inputs:", tensors(s.Inputs))
		t.row("outputs:", tensors(s.Outputs))
	}
	if err := t.flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	files := newTable(w, "FILE", "SIZE", "SHA256")
	for _, a := range v.Artifacts {
		files.row(a.Path, humanBytes(a.Size), a.SHA256)
	}
	return files.flush()
}

func tensors(ts []onnx.Tensor) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		dims := make([]string, len(t.Shape))
		for j, d := range t.Shape {
			switch {
			case d >= 0:
				dims[j] = strconv.FormatInt(d, 10)
			case j < len(t.DimNames) && t.DimNames[j] != "":
				dims[j] = t.DimNames[j]
			default:
				dims[j] = "?"
			}
		}
		parts[i] = fmt.Sprintf("%s %s[%s]", t.Name, t.Type, strings.Join(dims, ","))
	}
	return orDash(strings.Join(parts, "; "))
}

func versionsTable(w io.Writer, vs []*registry.Version) error {
	t := newTable(w, "VERSION", "STATUS", "ALIASES", "STAGE", "CREATED", "BY", "SIZE", "RUN")
	for _, v := range vs {
		var size int64
		for _, a := range v.Artifacts {
			size += a.Size
		}
		t.row(v.Version, v.Status, orDash(strings.Join(v.Aliases, ",")), v.Stage, when(v.CreatedAt), orDash(v.CreatedBy), humanBytes(size), orDash(v.RunID))
	}
	return t.flush()
}

// modelsVersionsCmd is 'lantern models versions'.
type modelsVersionsCmd struct {
	clientFlags
	Name   string `arg:"" help:"Model name." placeholder:"NAME"`
	Filter string `help:"Search filter in MLflow's syntax, such as \"tags.approved = 'yes'\" or \"version_number > 3\"." placeholder:"FILTER"`
}

func (c *modelsVersionsCmd) Run(ctx context.Context, g *Globals) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	vs := []*registry.Version{}
	for v, err := range cl.Versions(ctx, c.Name, registry.SearchQuery{Filter: c.Filter, MaxResults: 1000}) {
		if err != nil {
			return c.explain(err)
		}
		vs = append(vs, v)
	}
	if c.Output == "json" {
		return printJSON(g.stdout, vs)
	}
	if len(vs) == 0 {
		fmt.Fprintf(g.stderr, "%s has no versions\n", c.Name)
		return nil
	}
	return versionsTable(g.stdout, vs)
}

// modelsDownloadCmd is 'lantern models download'.
type modelsDownloadCmd struct {
	clientFlags
	Model string `arg:"" help:"Model and version to download from, as NAME or NAME@REF (REF: a number, v3, an alias, or latest; default latest)." placeholder:"NAME[@REF]"`
	File  string `help:"Artifact path of the file to download (default: the version's ONNX model)." placeholder:"PATH"`
	Dest  string `short:"O" help:"Where to write the file: a file name or an existing directory (default: the file's base name in the current directory)." placeholder:"DEST"`
}

func (c *modelsDownloadCmd) Run(ctx context.Context, g *Globals) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	name, ref := splitRef(c.Model, "latest")
	// Resolve the reference once, so every request reads the same version.
	v, err := cl.GetVersion(ctx, name, ref)
	if err != nil {
		return c.explain(err)
	}
	file := c.File
	if file == "" {
		if file = v.ModelFile; file == "" {
			return fmt.Errorf("version %d of %s has no model file: choose one with --file", v.Version, name)
		}
	}
	dest := c.Dest
	if dest == "" {
		dest = filepath.Base(filepath.FromSlash(file))
	} else if st, err := os.Stat(dest); err == nil && st.IsDir() {
		dest = filepath.Join(dest, filepath.Base(filepath.FromSlash(file)))
	}
	var bar *progress
	v, err = cl.DownloadFile(ctx, name, strconv.FormatInt(v.Version, 10), file, dest, func(done, total int64) {
		if bar == nil {
			bar = newProgress(g.stderr, "downloading", total)
		}
		bar.set(done, total)
	})
	if bar != nil {
		bar.finish()
	}
	if err != nil {
		return c.explain(err)
	}
	var a registry.Artifact
	for _, x := range v.Artifacts {
		if x.Path == file {
			a = x
		}
	}
	if c.Output == "json" {
		return printJSON(g.stdout, map[string]any{
			"model": v.Name, "version": v.Version, "file": a.Path, "path": dest, "size": a.Size, "sha256": a.SHA256,
		})
	}
	fmt.Fprintf(g.stdout, "downloaded %s version %d %s to %s (%s, sha256 %s verified)\n", v.Name, v.Version, a.Path, dest, humanBytes(a.Size), a.SHA256)
	return nil
}

// modelsDeleteCmd is 'lantern models delete'.
type modelsDeleteCmd struct {
	clientFlags
	Name    string `arg:"" help:"Model name." placeholder:"NAME"`
	Version int64  `help:"Delete only this version (its aliases go with it)." placeholder:"N"`
	Yes     bool   `short:"y" help:"Do not ask for confirmation."`
}

func (c *modelsDeleteCmd) Run(ctx context.Context, g *Globals) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	what := fmt.Sprintf("model %s with all its versions and files", c.Name)
	if c.Version > 0 {
		what = fmt.Sprintf("version %d of %s and its files", c.Version, c.Name)
	}
	if !c.Yes {
		ok, err := confirm(g.stderr, "Delete "+what+"? This cannot be undone. [y/N] ")
		if err != nil {
			return err
		}
		if !ok {
			return &exitError{code: 1, err: errors.New("not deleted")}
		}
	}
	if c.Version > 0 {
		err = cl.DeleteVersion(ctx, c.Name, c.Version)
	} else {
		err = cl.DeleteModel(ctx, c.Name)
	}
	if err != nil {
		return c.explain(err)
	}
	if c.Output == "json" {
		return printJSON(g.stdout, map[string]any{"deleted": true, "model": c.Name, "version": c.Version})
	}
	fmt.Fprintf(g.stdout, "deleted %s\n", what)
	return nil
}

// confirm asks on the terminal; without one it refuses, so scripts must say --yes.
func confirm(w io.Writer, question string) (bool, error) {
	if !isTTY(os.Stdin) {
		return false, errors.New("refusing to delete without confirmation: stdin is not a terminal, so pass --yes")
	}
	fmt.Fprint(w, question)
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil && line == "" {
		return false, nil
	}
	answer := strings.ToLower(strings.TrimSpace(line))
	return answer == "y" || answer == "yes", nil
}

type aliasCmd struct {
	Set aliasSetCmd `cmd:"" help:"Point an alias at a version (it must be READY)."`
	Rm  aliasRmCmd  `cmd:"" help:"Remove an alias."`
}

// aliasSetCmd is 'lantern models alias set'.
type aliasSetCmd struct {
	clientFlags
	Name    string `arg:"" help:"Model name." placeholder:"NAME"`
	Alias   string `arg:"" help:"Alias: letters, digits, '_' and '-' (production, candidate, ...)." placeholder:"ALIAS"`
	Version string `arg:"" help:"Version number (3 or v3)." placeholder:"VERSION"`
	Reason  string `help:"Why, for the audit log." placeholder:"TEXT"`
}

func (c *aliasSetCmd) Run(ctx context.Context, g *Globals) error {
	n, err := strconv.ParseInt(strings.TrimPrefix(strings.TrimPrefix(c.Version, "v"), "V"), 10, 64)
	if err != nil || n <= 0 {
		return fmt.Errorf("version must be a number such as 3 or v3, not %q", c.Version)
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	v, err := cl.SetAlias(ctx, c.Name, c.Alias, n, c.Reason)
	if err != nil {
		return c.explain(err)
	}
	if c.Output == "json" {
		return printJSON(g.stdout, v)
	}
	fmt.Fprintf(g.stdout, "%s@%s -> version %d\n", c.Name, c.Alias, v.Version)
	return nil
}

// aliasRmCmd is 'lantern models alias rm'.
type aliasRmCmd struct {
	clientFlags
	Name   string `arg:"" help:"Model name." placeholder:"NAME"`
	Alias  string `arg:"" help:"Alias to remove." placeholder:"ALIAS"`
	Reason string `help:"Why, for the audit log." placeholder:"TEXT"`
}

func (c *aliasRmCmd) Run(ctx context.Context, g *Globals) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	if err := cl.DeleteAlias(ctx, c.Name, c.Alias, c.Reason); err != nil {
		return c.explain(err)
	}
	if c.Output == "json" {
		return printJSON(g.stdout, map[string]any{"removed": true, "model": c.Name, "alias": c.Alias})
	}
	fmt.Fprintf(g.stdout, "removed %s@%s\n", c.Name, c.Alias)
	return nil
}
